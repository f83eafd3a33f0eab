"use strict";
// The lineage page's graph: cytoscape.js over the model the page embeds (<script
// type="application/json" id="graph-model">), laid out by dagre up to 300 nodes and by layers()
// (below) above. Clicking a node shows it in the side panel and adds its neighbours (fetched
// from the page's JSON twin); clicking a group of repeated runs opens it (and clicking the open
// group's frame closes it). Text is only ever set with textContent; cytoscape draws labels on a
// canvas. window.mltrailGraph (the cytoscape instance), window.mltrailGraphState and
// window.mltrailTimes (performance.now() at the script's start, the first layoutstop and the
// frame after it) are there for tests and benchmarks.
(function () {
  const source = document.getElementById("graph-model");
  const container = document.getElementById("graph");
  const panel = document.getElementById("graph-panel");
  if (!source || !container || !panel || typeof window.cytoscape !== "function") {
    return;
  }
  const times = { start: performance.now() };
  window.mltrailTimes = times;
  const initial = JSON.parse(source.textContent);
  const api = container.dataset.api;
  const ui = container.dataset.ui;
  const direction = container.dataset.direction || "both";
  const PAGES = { artifact: "artifacts", execution: "executions", context: "contexts" };
  const DAGRE_MAX = 300; // nodes up to which dagre lays the graph out (then: layers(), below)
  const layout = (initial.options && initial.options.layout) || "auto";

  const state = {
    nodes: new Map(),
    edges: new Map(),
    groups: new Map(),
    expanded: new Set(),
    focus: initial.focus,
    selected: null,
    pending: 0, // neighbourhoods asked for and not yet answered
  };
  window.mltrailGraphState = state;

  // Adds a model's nodes, groups and edges not there yet; how many nodes and edges it added.
  function merge(model) {
    const added = { nodes: 0, edges: 0 };
    for (const node of model.nodes) {
      if (!state.nodes.has(node.key)) {
        state.nodes.set(node.key, Object.assign({}, node));
        added.nodes += 1;
      }
    }
    for (const group of model.groups || []) {
      if (!state.groups.has(group.key)) {
        state.groups.set(group.key, Object.assign({ open: false }, group));
      }
    }
    for (const edge of model.edges) {
      if (!state.edges.has(edge.key)) {
        state.edges.set(edge.key, edge);
        added.edges += 1;
      }
    }
    return added;
  }

  function closedGroup(key) {
    const node = state.nodes.get(key);
    const group = node && node.group ? state.groups.get(node.group) : undefined;
    return group && !group.open ? group : undefined;
  }

  function visibleKey(key) {
    const group = closedGroup(key);
    return group ? group.key : key;
  }

  function elements() {
    const out = [];
    for (const group of state.groups.values()) {
      out.push({
        group: "nodes",
        data: { id: group.key, label: group.label, kind: group.open ? "box" : "group" },
        classes: group.open ? "box" : "group",
      });
    }
    for (const node of state.nodes.values()) {
      if (closedGroup(node.key)) {
        continue;
      }
      const data = { id: node.key, label: node.label, kind: node.kind, type: node.type };
      if (node.group) {
        data.parent = node.group;
      }
      const classes = [node.kind, (node.state || "").toLowerCase()];
      if (node.key === state.focus) {
        classes.push("focus");
      }
      out.push({ group: "nodes", data: data, classes: classes.join(" ") });
    }
    const seen = new Set();
    for (const edge of state.edges.values()) {
      const from = visibleKey(edge.source);
      const to = visibleKey(edge.target);
      const id = from + ">" + to;
      if (from === to || seen.has(id)) {
        continue;
      }
      seen.add(id);
      out.push({ group: "edges", data: { id: id, source: from, target: to } });
    }
    return out;
  }

  const cy = window.cytoscape({
    container: container,
    elements: [],
    minZoom: 0.02,
    maxZoom: 4,
    hideEdgesOnViewport: initial.nodes.length > DAGRE_MAX,
    textureOnViewport: initial.nodes.length > DAGRE_MAX,
    style: [
      {
        selector: "node",
        style: {
          label: "data(label)",
          "font-size": 11,
          "min-zoomed-font-size": 7,
          "text-valign": "bottom",
          "text-margin-y": 3,
          "text-max-width": 150,
          "text-wrap": "ellipsis",
          color: "#1d2330",
          width: 22,
          height: 22,
          "border-width": 1,
          "border-color": "#5c6577",
        },
      },
      { selector: "node.artifact", style: { shape: "ellipse", "background-color": "#cfe0ff" } },
      {
        selector: "node.execution",
        style: { shape: "round-rectangle", width: 30, "background-color": "#d9dde5" },
      },
      { selector: "node.complete", style: { "background-color": "#bfe3c6" } },
      { selector: "node.failed", style: { "background-color": "#f4c1bd" } },
      { selector: "node.running", style: { "background-color": "#fff0b3" } },
      {
        selector: "node.group",
        style: {
          shape: "round-rectangle",
          width: 54,
          height: 30,
          "background-color": "#e8ddff",
          "border-width": 2,
          "border-style": "double",
          "font-weight": "bold",
        },
      },
      {
        selector: "node.box",
        style: {
          shape: "round-rectangle",
          "background-color": "#f5f0ff",
          "border-color": "#8a6fd1",
          "border-style": "dashed",
          "text-valign": "top",
          "text-margin-y": -3,
          "font-weight": "bold",
        },
      },
      { selector: "node.focus", style: { "border-width": 3, "border-color": "#2457c5" } },
      { selector: "node:selected", style: { "border-width": 3, "border-color": "#b3261e" } },
      {
        selector: "edge",
        style: {
          width: 1.2,
          "curve-style": "bezier",
          "line-color": "#9aa3b5",
          "target-arrow-color": "#9aa3b5",
          "target-arrow-shape": "triangle",
          "arrow-scale": 0.8,
        },
      },
      // Haystack edges (straight, no arrows) are the cheapest to draw; in a large graph the
      // layers already say which way an edge goes (left to right).
      { selector: "edge.many", style: { "curve-style": "haystack", "haystack-radius": 0 } },
    ],
  });
  window.mltrailGraph = cy;

  // Fitting from the nodes' positions: cy.fit() measures every label and edge (half a second
  // at 1,000 nodes), and a small graph fitted to the frame would be drawn huge.
  function fitView() {
    const nodes = cy.nodes();
    if (nodes.length === 0) {
      return;
    }
    let left = Infinity;
    let top = Infinity;
    let right = -Infinity;
    let bottom = -Infinity;
    nodes.forEach(function (node) {
      if (node.isParent()) {
        return;
      }
      const at = node.position();
      left = Math.min(left, at.x);
      right = Math.max(right, at.x);
      top = Math.min(top, at.y);
      bottom = Math.max(bottom, at.y);
    });
    const margin = 90; // half a label's width around the outermost nodes
    const width = right - left + 2 * margin;
    const height = bottom - top + 2 * margin;
    const zoom = Math.min(1.5, container.clientWidth / width, container.clientHeight / height);
    cy.viewport({
      zoom: zoom,
      pan: {
        x: (container.clientWidth - zoom * (left + right)) / 2,
        y: (container.clientHeight - zoom * (top + bottom)) / 2,
      },
    });
  }

  cy.on("layoutstop", function () {
    fitView();
    if (times.layoutstop === undefined) {
      times.layoutstop = performance.now();
      requestAnimationFrame(function () {
        requestAnimationFrame(function () {
          times.drawn = performance.now();
        });
      });
    }
    times.layouts = (times.layouts || 0) + 1;
  });

  function render() {
    const all = elements();
    const count = all.filter((e) => e.group === "nodes").length;
    const large = count > DAGRE_MAX;
    if (large) {
      all.forEach((e) => e.group === "edges" && (e.classes = "many"));
    }
    cy.batch(function () {
      cy.elements().remove();
      cy.add(all);
      if (state.selected) {
        cy.getElementById(state.selected).select();
      }
    });
    if (layout === "dagre" || (layout === "auto" && !large)) {
      cy.layout(DAGRE).run();
    } else {
      const at = layers(cy, container.clientWidth / Math.max(1, container.clientHeight));
      cy.layout({ name: "preset", fit: false, animate: false, positions: (n) => at.get(n.id()) }).run();
    }
  }

  // Labels are left out of the nodes' sizes (measuring them all is slow): the spacing leaves
  // room for a label under each node instead.
  const DAGRE = {
    name: "dagre",
    rankDir: "LR",
    nodeSep: 24,
    rankSep: 120,
    edgeSep: 8,
    nodeDimensionsIncludeLabels: false,
    fit: false,
    animate: false,
  };

  // The layout of large graphs: dagre took 6.5 s for 1,000 nodes (network simplex ranking),
  // still over a second ranking by longest path. This one is linear but for the sorts: layers
  // by longest path from the sources (a source sits just before its first reader), the order
  // in each layer by barycentres of the neighbours' places (sweeps down and up), then each node
  // as near its neighbours as the order and the spacing allow. Unlike dagre it adds no dummy
  // nodes for edges that span layers, so such edges may cross other nodes.
  function layers(graph, aspect) {
    const ids = [];
    const index = new Map();
    graph.nodes().forEach(function (node) {
      if (!node.isParent()) {
        index.set(node.id(), ids.length);
        ids.push(node.id());
      }
    });
    const count = ids.length;
    const preds = ids.map(() => []);
    const succs = ids.map(() => []);
    graph.edges().forEach(function (edge) {
      const a = index.get(edge.data("source"));
      const b = index.get(edge.data("target"));
      if (a !== undefined && b !== undefined && a !== b) {
        succs[a].push(b);
        preds[b].push(a);
      }
    });
    // Layers: Kahn's order; a cycle is broken at its node with the fewest unplaced inputs.
    const waiting = preds.map((p) => p.length);
    const rank = new Array(count).fill(-1);
    const order = [];
    const queue = [];
    for (let v = 0; v < count; v++) {
      if (waiting[v] === 0) {
        queue.push(v);
      }
    }
    while (order.length < count) {
      if (queue.length === 0) {
        let best = -1;
        for (let v = 0; v < count; v++) {
          if (rank[v] < 0 && (best < 0 || waiting[v] < waiting[best])) {
            best = v;
          }
        }
        waiting[best] = 0;
        queue.push(best);
      }
      const v = queue.shift();
      if (rank[v] >= 0) {
        continue;
      }
      let r = 0;
      for (const u of preds[v]) {
        if (rank[u] >= 0) {
          r = Math.max(r, rank[u] + 1);
        }
      }
      rank[v] = r;
      order.push(v);
      for (const w of succs[v]) {
        waiting[w] -= 1;
        if (waiting[w] === 0) {
          queue.push(w);
        }
      }
    }
    for (let i = order.length - 1; i >= 0; i--) {
      const v = order[i];
      if (preds[v].length === 0 && succs[v].length > 0) {
        rank[v] = Math.max(0, Math.min(...succs[v].map((w) => rank[w])) - 1);
      }
    }
    const rows = [];
    for (const v of order) {
      (rows[rank[v]] = rows[rank[v]] || []).push(v);
    }
    const place = new Float64Array(count);
    function number(row) {
      row.forEach(function (v, i) {
        place[v] = i - (row.length - 1) / 2;
      });
    }
    function sweep(row, neighbours) {
      const key = new Map();
      for (const v of row) {
        const near = neighbours[v];
        let sum = 0;
        for (const u of near) {
          sum += place[u];
        }
        key.set(v, near.length ? sum / near.length : place[v]);
      }
      row.sort((a, b) => key.get(a) - key.get(b));
      number(row);
    }
    rows.forEach((row) => row && number(row));
    for (let round = 0; round < 3; round++) {
      for (let r = 1; r < rows.length; r++) {
        if (rows[r]) {
          sweep(rows[r], preds);
        }
      }
      for (let r = rows.length - 2; r >= 0; r--) {
        if (rows[r]) {
          sweep(rows[r], succs);
        }
      }
    }
    // A layer longer than `tall` nodes is folded into k = ceil(n / tall) staggered sub-columns
    // (node i in sub-column i mod k, each node a k-th of a gap below the one before), so that
    // a layer of hundreds of runs does not make the picture a thin line: `tall` is chosen to
    // give the picture the frame's proportions.
    const GAP = 46; // from a node to the next in a column: the node and its label
    const SUB = 90; // from a sub-column to the next: more than half a label
    const STEP = 170; // from a layer to the next
    const sizes = rows.map((row) => (row ? row.length : 0));
    const longest = Math.max(1, ...sizes);
    function shape(tall) {
      let width = 0;
      for (const n of sizes) {
        width += STEP + (Math.ceil(n / tall) - 1) * SUB;
      }
      return width / (Math.min(tall, longest) * GAP);
    }
    let tall = longest;
    for (let t = longest; t >= 4; t = Math.floor(t / 1.25)) {
      if (Math.abs(Math.log(shape(t) / aspect)) < Math.abs(Math.log(shape(tall) / aspect))) {
        tall = t;
      }
    }
    // Places: each node wants the mean height of its neighbours; the order and the gap hold.
    const height = new Float64Array(count);
    const shift = new Float64Array(count);
    const gaps = sizes.map((n) => GAP / Math.max(1, Math.ceil(n / tall)));
    rows.forEach(function (row, r) {
      if (row) {
        const k = Math.ceil(row.length / tall);
        row.forEach(function (v, i) {
          height[v] = (i - (row.length - 1) / 2) * gaps[r];
          shift[v] = (i % k) * SUB;
        });
      }
    });
    for (let round = 0; round < 2; round++) {
      rows.forEach(function (row, r) {
        if (!row) {
          return;
        }
        const gap = gaps[r];
        const want = row.map(function (v) {
          const near = preds[v].concat(succs[v]);
          return near.length ? near.reduce((t, u) => t + height[u], 0) / near.length : height[v];
        });
        const down = want.slice();
        for (let i = 1; i < row.length; i++) {
          down[i] = Math.max(want[i], down[i - 1] + gap);
        }
        const up = want.slice();
        for (let i = row.length - 2; i >= 0; i--) {
          up[i] = Math.min(want[i], up[i + 1] - gap);
        }
        row.forEach((v, i) => (height[v] = (down[i] + up[i]) / 2));
        for (let i = 1; i < row.length; i++) {
          height[row[i]] = Math.max(height[row[i]], height[row[i - 1]] + gap);
        }
      });
    }
    const left = [];
    let x = 0;
    sizes.forEach(function (n, r) {
      left[r] = x;
      x += STEP + (Math.ceil(n / tall) - 1) * SUB;
    });
    const at = new Map();
    for (let v = 0; v < count; v++) {
      at.set(ids[v], { x: left[rank[v]] + shift[v], y: height[v] });
    }
    return at;
  }

  // ----------------------------------------------------------------------------- the panel

  function el(tag, text, className) {
    const made = document.createElement(tag);
    if (text !== undefined && text !== null) {
      made.textContent = String(text);
    }
    if (className) {
      made.className = className;
    }
    return made;
  }

  function link(text, href) {
    const made = el("a", text);
    made.href = href; // built from fixed paths and numeric ids only
    return made;
  }

  function fields(pairs) {
    const list = el("dl", null, "fields");
    for (const [name, value] of pairs) {
      if (value === null || value === undefined || value === "") {
        continue;
      }
      list.appendChild(el("dt", name));
      list.appendChild(el("dd", value));
    }
    return list;
  }

  function status(text) {
    let line = panel.querySelector(".status");
    if (!line) {
      line = el("p", null, "status");
      panel.appendChild(line);
    }
    line.textContent = text;
  }

  function showNode(node) {
    panel.replaceChildren();
    panel.appendChild(el("h2", node.label));
    const created = Number.isInteger(node.created) ? new Date(node.created).toISOString() : null;
    panel.appendChild(
      fields([
        ["kind", node.kind],
        ["id", node.id],
        ["type", node.type],
        ["name", node.name],
        ["uri", node.uri],
        ["state", node.state],
        ["external id", node.external_id],
        ["created", created],
      ]),
    );
    const id = Number(node.id);
    const links = el("p", null, "links");
    links.appendChild(link("Open the " + node.kind + " page", ui + "/" + PAGES[node.kind] + "/" + id));
    links.appendChild(link("Lineage from here", ui + "/lineage/" + node.kind + "/" + id));
    if (node.kind === "execution") {
      links.appendChild(link("Metrics", ui + "/executions/" + id + "/metrics"));
    }
    panel.appendChild(links);
  }

  function showGroup(group) {
    panel.replaceChildren();
    panel.appendChild(el("h2", group.label));
    panel.appendChild(
      el("p", group.count + " runs of " + group.type + " on the same inputs, with their outputs."),
    );
    const query = new URLSearchParams();
    for (const id of group.executions) {
      query.append("id", "execution:" + Number(id));
    }
    const links = el("p", null, "links");
    links.appendChild(link("Compare these runs", ui + "/compare?" + query.toString()));
    panel.appendChild(links);
    const toggle = el("button", group.open ? "Close the group" : "Open the group");
    toggle.type = "button";
    toggle.addEventListener("click", function () {
      group.open = !group.open;
      showGroup(group);
      render();
    });
    panel.appendChild(toggle);
    const runs = el("ul", null, "runs");
    for (const key of group.members) {
      const node = state.nodes.get(key);
      if (node && node.kind === "execution") {
        const item = el("li");
        item.appendChild(link(node.label, ui + "/executions/" + Number(node.id)));
        runs.appendChild(item);
      }
    }
    panel.appendChild(runs);
  }

  function expand(node) {
    state.expanded.add(node.key);
    const query = new URLSearchParams({ depth: "1", direction: direction, collapse: "0" });
    const url = api + "/" + node.kind + "/" + Number(node.id) + "?" + query.toString();
    status("Adding the neighbours of " + node.label + "\u2026");
    state.pending += 1;
    fetch(url, { credentials: "same-origin", headers: { accept: "application/json" } })
      .then(function (answer) {
        return answer.json().then(function (body) {
          if (!answer.ok) {
            throw new Error(body.message || answer.statusText);
          }
          return body;
        });
      })
      .then(function (model) {
        const added = merge(model);
        if (added.nodes + added.edges === 0) {
          status("No more neighbours of " + node.label + ".");
          return;
        }
        status("Added " + added.nodes + " nodes and " + added.edges + " edges.");
        render();
      })
      .catch(function (error) {
        state.expanded.delete(node.key);
        status("Could not add the neighbours: " + error.message);
      })
      .finally(function () {
        state.pending -= 1;
      });
  }

  cy.on("tap", function (event) {
    const target = event.target;
    if (target === cy || !target.isNode()) {
      return;
    }
    const key = target.id();
    state.selected = key;
    const group = state.groups.get(key);
    if (group) {
      group.open = !group.open;
      showGroup(group);
      render();
      return;
    }
    const node = state.nodes.get(key);
    if (!node) {
      return;
    }
    showNode(node);
    if (!state.expanded.has(key)) {
      expand(node);
    }
  });

  // ----------------------------------------------------------------------------- start

  const tools = el("div", null, "graph-tools");
  const fit = el("button", "Fit");
  fit.type = "button";
  fit.addEventListener("click", function () {
    fitView();
  });
  tools.appendChild(fit);
  container.parentNode.insertBefore(tools, container);
  // The list of nodes and edges (for reading without the picture) follows this script: it is
  // kept out of the layout (graph.css) until it can be folded, then folded.
  document.documentElement.classList.add("graph-drawing");
  document.addEventListener("DOMContentLoaded", function () {
    const list = document.getElementById("graph-list");
    if (list) {
      list.open = false;
    }
    document.documentElement.classList.remove("graph-drawing");
  });
  merge(initial);
  render();
})();
