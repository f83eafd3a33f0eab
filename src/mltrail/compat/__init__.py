"""Facades that let code written for other tools record into mltrail (``mltrail.compat.cmf``)."""
