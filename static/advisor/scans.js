// Trend charts on the instance scan dashboard; the data comes from a json_script block.
(function () {
  const source = document.getElementById("scan-history");
  if (!source || !window.Chart) return;
  const h = JSON.parse(source.textContent);
  const line = (id, label, data, color, extra) => {
    const el = document.getElementById(id);
    if (!el) return;
    new Chart(el, {
      type: "line",
      data: { labels: h.labels, datasets: [{ label, data, borderColor: color, backgroundColor: color + "33", fill: true, tension: 0.25 }, ...(extra || [])] },
      options: { maintainAspectRatio: false, plugins: { legend: { display: true } }, scales: { x: { ticks: { maxTicksLimit: 6 } }, y: { beginAtZero: true } } },
    });
  };
  line("trend-keys", "Keys", h.keys, "#a41e11");
  line("trend-memory", "Used memory (MiB)", h.memory_mb, "#0d6efd");
  line("trend-findings", "Drift findings", h.findings, "#fd7e14", [
    { label: "high or above", data: h.findings_high, borderColor: "#dc3545", backgroundColor: "#dc354533", fill: true, tension: 0.25 },
  ]);
})();
