// Copy buttons: <button class="copy" data-copy="text">. Works after htmx swaps too (delegated).
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button.copy");
  if (!button) return;
  try {
    await navigator.clipboard.writeText(button.dataset.copy);
    button.textContent = "Copied";
  } catch {
    button.textContent = "Select and copy";
  }
});

// After htmx swaps the form, put the keyboard focus where the person is working: in the row
// they added, on the add button after a removal, or on the preview's first heading.
let lastRowsAction = null;
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[name=_rows]");
  lastRowsAction = button ? button.value : null;
});
document.addEventListener("htmx:afterSettle", (event) => {
  const swapped = event.detail.elt;
  if (!swapped || swapped.id !== "operation-form") return;
  const preview = swapped.querySelector("#preview-heading");
  if (preview) {
    document.title = `Review · ${document.title.replace(/^(Preview|Review) · /, "")}`;
    preview.focus();
    return;
  }
  if (!lastRowsAction) return;
  const [verb, target] = lastRowsAction.split(":");
  const group = verb === "add" ? target : target.replace(/__\d+$/, "");
  const rows = document.getElementById(`rows-${group}`);
  lastRowsAction = null;
  if (!rows) return;
  const rowsList = rows.querySelectorAll(":scope > .row");
  const last = rowsList[rowsList.length - 1];
  const focusable = verb === "add" && last ? last.querySelector("input, select, textarea") : null;
  (focusable || rows.querySelector(":scope > button[name=_rows]"))?.focus();
});
