// A batch's page: the tab's title follows the batch's status (as request.js does for a request).
// The live section carries the title in data-title; every poll that swaps it in brings the new one.
function followBatchTitle() {
  const section = document.getElementById("batch-live");
  if (section && section.dataset.title && document.title !== section.dataset.title) {
    document.title = section.dataset.title;
  }
}
document.addEventListener("DOMContentLoaded", followBatchTitle);
document.addEventListener("htmx:afterSettle", followBatchTitle);
