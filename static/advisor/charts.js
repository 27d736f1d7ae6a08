// Charts of the overview and the compliance page: findings by severity and drift over time.
// Each canvas names its kind (data-chart) and the json_script block with its data (data-source).
(function () {
  "use strict";

  // The colours of the severity badges (app.css).
  const SEVERITY = { critical: "#5c0b0b", high: "#dc3545", medium: "#fd7e14", low: "#0dcaf0", info: "#6c757d" };
  const integers = { beginAtZero: true, ticks: { precision: 0 } };

  const draw = {
    "severity-doughnut"(canvas, d) {
      new Chart(canvas, {
        type: "doughnut",
        data: {
          labels: d.severities,
          datasets: [{ data: d.counts, backgroundColor: d.severities.map((s) => SEVERITY[s]), borderWidth: 1 }],
        },
        options: { maintainAspectRatio: false, plugins: { legend: { position: "right" } } },
      });
    },
    "severity-by-team"(canvas, d) {
      const many = d.teams.length > 8;
      if (many) canvas.parentElement.style.height = `${Math.max(260, 26 * d.teams.length + 60)}px`;
      new Chart(canvas, {
        type: "bar",
        data: {
          labels: d.teams,
          datasets: d.series.map((s) => ({ label: s.severity, data: s.counts, backgroundColor: SEVERITY[s.severity] })),
        },
        options: {
          maintainAspectRatio: false,
          indexAxis: many ? "y" : "x",
          scales: { x: { stacked: true, ...(many ? integers : {}) }, y: { stacked: true, ...(many ? {} : integers) } },
        },
      });
    },
    "drift-history"(canvas, d) {
      new Chart(canvas, {
        type: "line",
        data: {
          labels: d.labels,
          datasets: [
            { label: "drift findings", data: d.total, borderColor: "#fd7e14", backgroundColor: "#fd7e1433", fill: true, tension: 0.2 },
            { label: "high or above", data: d.high, borderColor: "#dc3545", backgroundColor: "#dc354533", fill: true, tension: 0.2 },
          ],
        },
        options: {
          maintainAspectRatio: false,
          plugins: { tooltip: { callbacks: { footer: (items) => `${d.instances[items[0].dataIndex]} instance(s) scanned` } } },
          scales: { x: { ticks: { maxTicksLimit: 8 } }, y: integers },
        },
      });
    },
  };

  function init() {
    if (typeof Chart === "undefined") return;
    for (const canvas of document.querySelectorAll("canvas[data-chart][data-source]")) {
      const source = document.getElementById(canvas.dataset.source);
      const render = draw[canvas.dataset.chart];
      if (source && render && !Chart.getChart(canvas)) render(canvas, JSON.parse(source.textContent));
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
