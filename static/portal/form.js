// An operation's form (templates/integrations/_operation_form.html) and its review step:
//  - fields that apply only to one choice (data-shown-when="<controller id>", data-shown-value) are hidden,
//    and their inputs disabled so that their values are not sent, while that choice is not made. Without
//    JavaScript they stay visible and the server ignores them (integrations/forms/data.py, applies());
//  - after a refused preview or run, the error summary gets the keyboard focus, and its links move the
//    focus to the field they name (opening a folded group on the way);
//  - folded groups (<details>) opened by the person stay open when htmx swaps the form.
// Delegated from the document: it keeps working after htmx swaps the form or a field. No inline handlers
// and no eval: the Content-Security-Policy allows neither.
(() => {
  "use strict";

  const DISABLED_HERE = "shownWhenDisabled";
  const CONTROLS = "input, select, textarea, button";

  function applyConditions() {
    for (const block of document.querySelectorAll("[data-shown-when]")) {
      const controller = document.getElementById(block.dataset.shownWhen);
      const shown = !controller || controller.value === block.dataset.shownValue;
      block.hidden = !shown;
      for (const control of block.querySelectorAll(CONTROLS)) {
        if (!shown && !control.disabled) {
          control.disabled = true;
          control.dataset[DISABLED_HERE] = "1";
        } else if (shown && control.dataset[DISABLED_HERE]) {
          control.disabled = false;
          delete control.dataset[DISABLED_HERE];
        }
      }
    }
  }

  // Where a summary link (or anything else) sends the focus: the element, or the first control of a
  // group; folded groups around it are opened first, since a closed <details> hides its content.
  function focusOn(id) {
    const target = document.getElementById(id);
    if (!target) return false;
    for (let el = target.parentElement; el; el = el.parentElement) {
      if (el.tagName === "DETAILS") el.open = true;
    }
    const focusable = target.matches(CONTROLS) ? target : target.querySelector(`${CONTROLS}:not([tabindex="-1"])`);
    (focusable || target).focus();
    (focusable || target).scrollIntoView({ block: "center" });
    return true;
  }

  function focusSummary() {
    const summary = document.getElementById("error-summary");
    if (summary) summary.focus();
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest("#error-summary a[data-focus]");
    if (link && focusOn(link.dataset.focus)) event.preventDefault();
  });

  document.addEventListener("change", (event) => {
    if (event.target.matches && event.target.matches("select, input")) applyConditions();
  });

  // The folded groups open before htmx swaps the form are open after it too (the server opens those
  // holding a value or an error, and the group whose rows were just edited).
  let openFolds = [];
  document.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.target && event.detail.target.id === "operation-form") {
      openFolds = Array.from(document.querySelectorAll("#operation-form details[open]"), (d) => d.id);
    }
  });
  document.addEventListener("htmx:afterSwap", (event) => {
    applyConditions();
    if (!event.detail.target || event.detail.target.id !== "operation-form") return;
    for (const id of openFolds) {
      const fold = document.getElementById(id);
      if (fold && fold.tagName === "DETAILS") fold.open = true;
    }
    openFolds = [];
  });
  // A field checked again as it is left: once it is right, its line leaves the error summary, and the
  // summary itself once nothing is left to correct (it would otherwise point at errors that are gone).
  function updateSummary(field) {
    const summary = document.getElementById("error-summary");
    if (!summary || field.querySelector(".errors")) return;
    for (const control of field.querySelectorAll("[id]")) {
      summary.querySelector(`a[data-focus="${CSS.escape(control.id)}"]`)?.closest("li")?.remove();
    }
    if (!summary.querySelector("li")) summary.remove();
  }

  document.addEventListener("htmx:afterSettle", (event) => {
    const swapped = event.detail.elt;
    if (swapped && swapped.id && swapped.id.startsWith("field-")) updateSummary(swapped);
    if (!swapped || swapped.id !== "operation-form") return;
    focusSummary();
  });

  function start() {
    applyConditions();
    focusSummary();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
