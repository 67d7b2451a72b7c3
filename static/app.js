// Behaviour that would otherwise be inline handlers, which the Content-Security-Policy forbids.
document.addEventListener("click", (e) => {
  if (e.target.closest("[data-print]")) { e.preventDefault(); window.print(); }
});
document.addEventListener("change", (e) => {
  if (e.target.matches("[data-autosubmit]")) { e.target.form.submit(); }
});
document.addEventListener("submit", (e) => {
  const ask = e.target.getAttribute("data-confirm");
  if (ask && !window.confirm(ask)) { e.preventDefault(); }
});
