// The colour theme: the system's (the default), light or dark, remembered in this browser.
//
// Loaded without `defer` in <head>, so <html data-theme> is set before the first paint and a dark page
// never flashes light. Pico follows prefers-color-scheme when <html> has no data-theme. The choice is kept
// under the key the Django admin uses for its own toggle ("auto", "light", "dark"), so choosing in one
// place applies to the other too.
(() => {
  const KEY = "theme";
  const CHOICES = ["auto", "light", "dark"];
  const root = document.documentElement;

  const stored = () => {
    try {
      const value = localStorage.getItem(KEY);
      return CHOICES.includes(value) ? value : "auto";
    } catch {
      return "auto"; // storage refused (a privacy setting): follow the system
    }
  };
  const apply = (choice) => {
    if (choice === "light" || choice === "dark") root.dataset.theme = choice;
    else delete root.dataset.theme;
  };

  apply(stored());
  // Another tab (or the admin) changed it.
  window.addEventListener("storage", (event) => {
    if (event.key !== KEY) return;
    apply(stored());
    const select = document.getElementById("theme-choice");
    if (select) select.value = stored();
  });
  // The choice in the top bar, made here: without JavaScript it could not be applied, so the page has only an
  // empty, hidden place for it (base.html, .theme-choice).
  const LABELS = {auto: "Theme: as the system", light: "Theme: light", dark: "Theme: dark"};
  document.addEventListener("DOMContentLoaded", () => {
    const place = document.querySelector(".theme-choice");
    if (!place) return;
    const label = document.createElement("label");
    label.htmlFor = "theme-choice";
    label.className = "visually-hidden";
    label.textContent = "Colour theme";
    const select = document.createElement("select");
    select.id = "theme-choice";
    for (const choice of CHOICES) select.add(new Option(LABELS[choice], choice));
    select.value = stored();
    select.addEventListener("change", () => {
      const choice = CHOICES.includes(select.value) ? select.value : "auto";
      try {
        localStorage.setItem(KEY, choice);
      } catch {
        // Not remembered, but applied to this page all the same.
      }
      apply(choice);
    });
    place.replaceChildren(label, select);
    place.hidden = false;
  });
})();
