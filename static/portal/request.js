// A request's page: the tab's title follows the request's status. The status section carries the
// title in data-title; the server renders it into <title> on the first load, and every poll that
// swaps the section in (queued → running → succeeded, or approved while the requester watches)
// brings the new one, so a person watching another tab sees "Succeeded · Request #12" there.
function followStatusTitle() {
  const section = document.getElementById("request-status");
  if (section && section.dataset.title && document.title !== section.dataset.title) {
    document.title = section.dataset.title;
  }
}
document.addEventListener("DOMContentLoaded", followStatusTitle);
document.addEventListener("htmx:afterSettle", followStatusTitle);
