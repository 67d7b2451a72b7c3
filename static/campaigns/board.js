// Move a deal card to another stage: drag it (SortableJS, so touch screens work too) or pick
// a stage in its "Move to…" select or press an arrow key on the focused card (keyboard). Both POST the same move endpoint, then reload.
(function () {
  const token = document.querySelector("[name=csrfmiddlewaretoken]").value;
  async function move(deal, stage) {
    const body = new URLSearchParams({stage: stage});
    const r = await fetch(`/pipelines/deals/${deal}/move/`, {
      method: "POST", body, headers: {"X-CSRFToken": token}, credentials: "same-origin"});
    if (r.ok) { window.location.reload(); } else { alert((await r.json()).errors.stage || "Could not move the deal."); window.location.reload(); }
  }
  document.querySelectorAll(".stage-drop").forEach((list) => {
    Sortable.create(list, {
      group: "deals", filter: "select, a, summary", preventOnFilter: false, delay: 150, delayOnTouchOnly: true,
      onAdd: (e) => move(e.item.dataset.deal, e.to.dataset.stage),
    });
  });
  // A focused card moves one stage right or left with the arrow keys.
  const stages = [...document.querySelectorAll(".stage-drop")].map((list) => list.dataset.stage);
  document.querySelectorAll(".deal-card").forEach((card) => {
    card.addEventListener("keydown", (e) => {
      const step = {ArrowRight: 1, ArrowLeft: -1}[e.key];
      if (e.target !== card || !step) return;
      const to = stages[stages.indexOf(card.parentElement.dataset.stage) + step];
      if (to) { e.preventDefault(); move(card.dataset.deal, to); }
    });
  });
  document.querySelectorAll(".deal-move").forEach((select) => {
    select.addEventListener("change", () => move(select.dataset.deal, select.value));
  });
})();
