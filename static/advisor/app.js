// Small progressive enhancements; every page works without them.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  navigator.clipboard.writeText(button.dataset.copy).then(() => {
    const original = button.innerHTML;
    button.innerHTML = '<i class="bi bi-check2"></i> Copied';
    setTimeout(() => { button.innerHTML = original; }, 1500);
  });
});

// Behaviours that would otherwise be inline handlers, which the Content-Security-Policy forbids.
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});
document.addEventListener("change", (event) => {
  const field = event.target.closest("[data-autosubmit]");
  if (field && field.form) field.form.submit();
});

// Widths computed on the server (progress bars) come as data-width="<percent>" and are set here:
// the policy forbids style="" attributes, not styles set from a script.
function applyWidths(root) {
  const bars = Array.from(root.querySelectorAll("[data-width]"));
  if (root.matches && root.matches("[data-width]")) bars.push(root);
  for (const bar of bars) {
    const percent = Math.min(100, Math.max(0, parseFloat(bar.dataset.width) || 0));
    bar.style.width = `${percent}%`;
  }
}
if (window.htmx) {
  htmx.onLoad(applyWidths); // the page itself, then every piece htmx swaps in
} else if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", () => applyWidths(document));
} else {
  applyWidths(document);
}
