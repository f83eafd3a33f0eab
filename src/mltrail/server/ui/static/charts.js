"use strict";
// Step series drawn with uPlot, from <script type="application/json" id="chart-data">: a list of
// charts {title, lines: [{label, steps, values}]}, each drawn into the element whose
// data-chart attribute is its index. x is the step. A null value is a gap in its line; a step
// one line has and another has not is passed over (uPlot spans undefined, breaks at null).
(function () {
  const source = document.getElementById("chart-data");
  if (!source || typeof window.uPlot !== "function") {
    return;
  }
  const COLORS = ["#2457c5", "#c5462b", "#2e8b57", "#8a5a00", "#7a3fc0", "#0f7c8c", "#b3267a"];
  const charts = JSON.parse(source.textContent);
  const STEPS = []; // tick spacings of the step axis: whole numbers only
  for (let scale = 1; scale <= 1e12; scale *= 10) {
    STEPS.push(scale, 2 * scale, 5 * scale);
  }
  const drawn = [];
  window.mltrailCharts = drawn;

  function join(lines) {
    const all = new Set();
    for (const line of lines) {
      for (const step of line.steps) {
        all.add(step);
      }
    }
    const steps = Array.from(all).sort(function (a, b) {
      return a - b;
    });
    const index = new Map();
    steps.forEach(function (step, i) {
      index.set(step, i);
    });
    const data = [steps];
    for (const line of lines) {
      const column = new Array(steps.length).fill(undefined);
      line.steps.forEach(function (step, i) {
        const value = line.values[i];
        column[index.get(step)] = typeof value === "number" ? value : null;
      });
      data.push(column);
    }
    return data;
  }

  charts.forEach(function (chart, i) {
    const area = document.querySelector('[data-chart="' + i + '"]');
    if (!area) {
      return;
    }
    const series = [{ label: "step" }];
    chart.lines.forEach(function (line, n) {
      series.push({
        label: String(line.label),
        stroke: COLORS[n % COLORS.length],
        width: 2,
        spanGaps: false,
      });
    });
    const room = area.closest(".charts") || document.body;
    const width = Math.max(320, Math.min(room.clientWidth - 40, 640));
    const plot = new window.uPlot(
      {
        width: width,
        height: 260,
        scales: { x: { time: false } },
        series: series,
        axes: [{ label: "step", incrs: STEPS }, {}],
        cursor: { drag: { x: true, y: false } },
      },
      join(chart.lines),
      area,
    );
    drawn.push(plot);
  });
})();
