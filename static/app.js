// Behaviour that would otherwise be inline handlers, which the Content-Security-Policy forbids.
document.addEventListener("click", (e) => {
  if (e.target.closest("[data-print]")) { e.preventDefault(); window.print(); }
});
document.addEventListener("change", (e) => {
  // On a field, or on a whole form (the inbox filters) for any of its fields.
  if (e.target.matches("[data-autosubmit]") || e.target.form?.hasAttribute("data-autosubmit")) {
    e.target.form.submit();
  }
});
document.addEventListener("submit", (e) => {
  const ask = e.target.getAttribute("data-confirm");
  if (ask && !window.confirm(ask)) { e.preventDefault(); }
});
// The inbox thread is polled and swapped every few seconds: an edit history the rep opened
// stays open across the swap.
document.addEventListener("htmx:beforeSwap", (e) => {
  e.detail.target.dataset.openDetails = [...e.detail.target.querySelectorAll("details[id][open]")]
    .map((d) => d.id).join(" ");
});
document.addEventListener("htmx:afterSwap", (e) => {
  for (const id of (e.detail.target.dataset.openDetails || "").split(" ")) {
    if (id) { document.getElementById(id)?.setAttribute("open", ""); }
  }
});
// Task queue: copy a task's text for pasting on the platform.
document.addEventListener("click", (e) => {
  const button = e.target.closest("[data-copy]");
  if (!button) { return; }
  const box = document.querySelector(button.getAttribute("data-copy"));
  if (!box) { return; }
  const selectIt = () => {
    // No clipboard (an insecure page, a refused permission): select the text for the rep.
    getSelection().selectAllChildren(box);
    button.textContent = "Text selected: copy it";
  };
  if (!navigator.clipboard) { selectIt(); return; }
  navigator.clipboard.writeText(box.textContent).then(
    () => { button.textContent = "Copied"; },
    selectIt,
  );
});
// "Select this page" on the contacts list: ticks or clears every box its selector names.
document.addEventListener("change", (e) => {
  const boxes = e.target.getAttribute?.("data-check-all");
  if (!boxes) { return; }
  for (const box of document.querySelectorAll(boxes)) { box.checked = e.target.checked; }
});

// "Send later" in the inbox: the date typed is in the rep's own time zone, which only the
// browser knows (outreach/inbox/forms.py ReplyForm.send_tz).
document.querySelectorAll("#id_reply_send_tz").forEach(function (field) {
  try {
    field.value = field.value || Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (e) { /* the server's TIME_ZONE is used */ }
});
