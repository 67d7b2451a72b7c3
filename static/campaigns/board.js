// Drag a deal card onto another stage column: POST the move, then show the board again.
(function () {
  const token = document.querySelector("[name=csrfmiddlewaretoken]").value;
  document.querySelectorAll(".deal-card").forEach((card) => {
    card.addEventListener("dragstart", (e) => e.dataTransfer.setData("text/plain", card.dataset.deal));
  });
  document.querySelectorAll(".stage-column").forEach((column) => {
    column.addEventListener("dragover", (e) => e.preventDefault());
    column.addEventListener("drop", async (e) => {
      e.preventDefault();
      const deal = e.dataTransfer.getData("text/plain");
      const body = new URLSearchParams({stage: column.dataset.stage});
      const r = await fetch(`/pipelines/deals/${deal}/move/`, {
        method: "POST", body, headers: {"X-CSRFToken": token}, credentials: "same-origin"});
      if (r.ok) { window.location.reload(); } else { alert((await r.json()).errors.stage || "Could not move the deal."); }
    });
  });
})();
