// The sequence builder (analytics/templates/analytics/sequence_builder.html): drag a step
// by its handle (SortableJS: mouse and touch) or press its Up / Down button (keyboard) to
// reorder the cards in place; the posted order of the cards is the order of the steps.
// Without this script the same buttons submit and the server moves the step.
(function () {
  const list = document.getElementById("steps");
  if (!list) { return; }
  const status = document.getElementById("order-status");
  function renumber() {
    list.querySelectorAll(".step-card").forEach((card, i) => {
      card.querySelector(".step-number").textContent = i + 1;
    });
  }
  function moved(card) {
    renumber();
    status.textContent = `Step moved to position ${[...list.children].indexOf(card) + 1}.`;
  }
  // forceFallback: the same pointer-driven drag for mouse and touch (no native drag image).
  Sortable.create(list, {
    handle: ".drag-handle", animation: 150, forceFallback: true, onEnd: (e) => moved(e.item),
  });
  list.addEventListener("click", (e) => {
    const button = e.target.closest("[data-move]");
    if (!button) { return; }
    e.preventDefault();
    const card = button.closest(".step-card");
    if (button.dataset.move === "up" && card.previousElementSibling) {
      list.insertBefore(card, card.previousElementSibling);
    } else if (button.dataset.move === "down" && card.nextElementSibling) {
      list.insertBefore(card.nextElementSibling, card);
    }
    button.focus();
    moved(card);
  });
  // The card's header says the delay in words ("after 3 hours") as it is typed.
  function delayWords(card) {
    const key = card.dataset.key;
    const n = parseInt(card.querySelector(`[name="${key}-delay_value"]`).value, 10);
    const unit = card.querySelector(`[name="${key}-delay_unit"]`).value;
    const words = Number.isNaN(n) || n < 0 ? "" : n === 0 ? "right away"
      : `after ${n} ${n === 1 ? unit.slice(0, -1) : unit}`;
    card.querySelector(".delay-words").textContent = words;
  }
  list.addEventListener("input", (e) => {
    const card = e.target.closest(".step-card");
    if (card && e.target.name?.endsWith("-delay_value")) { delayWords(card); }
  });
  // The new-template fields show while "Write a new template" is picked; a subject only
  // for email.
  list.addEventListener("change", (e) => {
    const card = e.target.closest(".step-card");
    if (!card) { return; }
    const key = card.dataset.key;
    if (e.target.name === `${key}-delay_unit`) { delayWords(card); }
    if (e.target.name === `${key}-template`) {
      card.querySelector(".new-template").hidden = e.target.value !== "new";
    }
    if (e.target.name === `${key}-channel`) {
      card.querySelectorAll("[data-email-only]").forEach((el) => {
        el.hidden = e.target.value !== "email";
      });
      card.querySelectorAll("[data-whatsapp-only]").forEach((el) => {
        el.hidden = e.target.value !== "whatsapp";
      });
    }
    // A WhatsApp template picked: the page comes back with its category, language, status
    // and one row per variable (as its "Show its variables" button does without script).
    if (e.target.name === `${key}-wa_template`) {
      e.target.form.requestSubmit(card.querySelector(".wa-refresh"));
    }
  });
})();
