// Findings pages: the sizing chart on the instance page and the print button of the planner.
(function () {
  "use strict";

  const PALETTE = ["#a41e11", "#0d6efd", "#198754", "#fd7e14", "#6f42c1", "#20c997",
                   "#d63384", "#0dcaf0", "#6c757d", "#ffc107", "#adb5bd"];

  function formatBytes(bytes) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return value.toFixed(unit ? 1 : 0) + " " + units[unit];
  }

  // Vertical dashed lines at the INS007 thresholds, drawn over the bars.
  const thresholdLines = {
    id: "thresholdLines",
    afterDatasetsDraw(chart, args, options) {
      const { ctx, chartArea, scales } = chart;
      ctx.save();
      for (const line of options.lines || []) {
        const x = scales.x.getPixelForValue(line.value);
        if (x < chartArea.left || x > chartArea.right) continue;
        ctx.strokeStyle = line.color;
        ctx.lineWidth = 2;
        ctx.setLineDash([6, 4]);
        ctx.beginPath();
        ctx.moveTo(x, chartArea.top - 4);
        ctx.lineTo(x, chartArea.bottom);
        ctx.stroke();
        ctx.setLineDash([]);
        ctx.fillStyle = line.color;
        ctx.font = "600 11px system-ui, sans-serif";
        ctx.textAlign = "center";
        ctx.fillText(line.label, x, chartArea.top - 8);
      }
      ctx.restore();
    },
  };

  function sizingChart(canvas) {
    const source = document.getElementById(canvas.dataset.sizingChart);
    if (!source || typeof Chart === "undefined") return;
    const data = JSON.parse(source.textContent);
    const pct = (share) => Math.round(share * 1000) / 10;
    const datasets = data.namespaces.map((ns, i) => ({
      label: ns.name,
      data: [pct(ns.share)],
      bytes: ns.bytes,
      backgroundColor: PALETTE[i % PALETTE.length],
      borderWidth: 0,
    }));
    const used = data.namespaces.reduce((sum, ns) => sum + ns.share, 0);
    if (used < 1) {
      datasets.push({ label: "free", data: [pct(1 - used)], bytes: data.usable_bytes - data.total_bytes,
                      backgroundColor: "#e9ecef", borderWidth: 0 });
    }
    const max = Math.max(100, Math.ceil(pct(used) / 10) * 10);
    new Chart(canvas, {
      type: "bar",
      data: { labels: ["Usable memory"], datasets },
      options: {
        indexAxis: "y",
        responsive: true,
        maintainAspectRatio: false,
        layout: { padding: { top: 16 } },
        scales: {
          x: { stacked: true, min: 0, max, ticks: { callback: (v) => v + "%" } },
          y: { stacked: true, display: false },
        },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12 } },
          tooltip: {
            callbacks: {
              label: (item) => `${item.dataset.label}: ${item.parsed.x}% (${formatBytes(item.dataset.bytes)})`,
            },
          },
          thresholdLines: {
            lines: [
              { value: pct(data.thresholds.medium), label: pct(data.thresholds.medium) + "%", color: "#fd7e14" },
              { value: pct(data.thresholds.high), label: pct(data.thresholds.high) + "%", color: "#dc3545" },
            ],
          },
        },
      },
      plugins: [thresholdLines],
    });
  }

  function init() {
    document.querySelectorAll("canvas[data-sizing-chart]").forEach(sizingChart);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }

  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-print]")) window.print();
  });
})();
