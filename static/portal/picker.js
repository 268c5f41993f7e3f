// Pickers: a text box that offers the choices listed from the target, as a WAI-ARIA 1.2 combobox
// with a listbox popup ("list autocomplete": the server filters by what is typed).
//
// The server renders a plain text input and, after it, a .picker-choices container that htmx
// fills with a listbox (integrations/_choices.html). This file only:
//  - makes the input a combobox while it has options, and a plain text box again when it has none
//    (the status line beside it then says why);
//  - opens, moves through and closes the listbox (Down/Up/Enter/Escape, and the mouse);
//  - asks htmx for new choices ("picker-reload") as the person types (debounced, what was typed
//    sent as q), changes the target, or changes a field the choices depend on.
// Everything is delegated from the document, so it keeps working after htmx swaps the form or a
// field. No inline handlers and no eval: the Content-Security-Policy allows neither.
(() => {
  "use strict";

  const TYPING_PAUSE_MS = 300;
  const timers = new WeakMap();
  // Inputs the person is typing in: their next choices open the listbox.
  const typing = new WeakSet();

  const isPicker = (el) => el instanceof HTMLInputElement && !!document.getElementById(`${el.id}_choices`);
  const listboxOf = (input) => document.getElementById(`${input.id}_listbox`);
  const optionsOf = (input) => Array.from(listboxOf(input)?.querySelectorAll("[role=option]") ?? []);
  const activeOf = (input) => {
    const id = input.getAttribute("aria-activedescendant");
    return id ? document.getElementById(id) : null;
  };

  function reload(container) {
    if (container && window.htmx) window.htmx.trigger(container, "picker-reload");
  }

  // After new choices land: a combobox if there is anything to pick, else a plain text box.
  function setUp(container) {
    const input = document.getElementById(container.dataset.pickerFor);
    if (!input) return;
    const listbox = listboxOf(input);
    if (listbox && optionsOf(input).length) {
      input.setAttribute("role", "combobox");
      input.setAttribute("aria-autocomplete", "list");
      input.setAttribute("aria-controls", listbox.id);
      input.removeAttribute("aria-activedescendant");
      setOpen(input, typing.has(input) && document.activeElement === input);
    } else {
      for (const name of ["role", "aria-autocomplete", "aria-controls", "aria-expanded", "aria-activedescendant"]) {
        input.removeAttribute(name);
      }
    }
  }

  function setOpen(input, open) {
    const listbox = listboxOf(input);
    if (!listbox || input.getAttribute("role") !== "combobox") return;
    listbox.hidden = !open;
    input.setAttribute("aria-expanded", open ? "true" : "false");
    if (!open) {
      activeOf(input)?.setAttribute("aria-selected", "false");
      input.removeAttribute("aria-activedescendant");
    }
  }

  function move(input, step) {
    const options = optionsOf(input);
    if (!options.length) return;
    setOpen(input, true);
    const current = activeOf(input);
    const at = options.indexOf(current);
    const next = options[at < 0 ? (step > 0 ? 0 : options.length - 1) : (at + step + options.length) % options.length];
    current?.setAttribute("aria-selected", "false");
    next.setAttribute("aria-selected", "true");
    input.setAttribute("aria-activedescendant", next.id);
    next.scrollIntoView({ block: "nearest" });
  }

  // A choice fills the text box; "change" then checks the field (its hx-post) and reloads the
  // pickers that depend on it, exactly as if the value had been typed.
  function choose(input, option) {
    typing.delete(input);
    input.value = option.dataset.value;
    setOpen(input, false);
    input.focus();
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }

  // The filter is what the person typed since they came to the field, never a value already in it:
  // a filled picker, opened again, offers every choice.
  document.addEventListener("htmx:configRequest", (event) => {
    const container = event.detail.elt;
    if (!container?.matches?.(".picker-choices")) return;
    const input = document.getElementById(container.dataset.pickerFor);
    event.detail.parameters.q = input && typing.has(input) ? input.value : "";
  });

  // New choices swapped in (or none, with only the status line saying why).
  document.addEventListener("htmx:afterSwap", (event) => {
    const container = event.detail.target;
    if (container?.matches?.(".picker-choices")) setUp(container);
  });

  document.addEventListener("input", (event) => {
    const input = event.target;
    if (!isPicker(input)) return;
    typing.add(input);
    clearTimeout(timers.get(input));
    timers.set(input, setTimeout(() => reload(document.getElementById(`${input.id}_choices`)), TYPING_PAUSE_MS));
  });

  document.addEventListener("change", (event) => {
    const changed = event.target;
    const form = changed.closest?.("form");
    if (!form || !changed.name) return;
    for (const container of form.querySelectorAll(".picker-choices")) {
      const depends = (container.dataset.dependsOn || "").split(" ");
      if (changed.name === "target" || depends.includes(changed.name)) reload(container);
    }
  });

  document.addEventListener("keydown", (event) => {
    const input = event.target;
    if (!isPicker(input) || input.getAttribute("role") !== "combobox") return;
    const open = input.getAttribute("aria-expanded") === "true";
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (event.altKey) setOpen(input, event.key === "ArrowDown");
      else move(input, event.key === "ArrowDown" ? 1 : -1);
    } else if (event.key === "Enter" && open && activeOf(input)) {
      event.preventDefault(); // picks the option; the form is not submitted
      choose(input, activeOf(input));
    } else if (event.key === "Escape" && open) {
      event.preventDefault();
      setOpen(input, false);
    }
  });

  // Pressing on an option must not take the focus from the text box: the blur would check the
  // field and swap it (and the option under the pointer) away before the click lands.
  document.addEventListener("mousedown", (event) => {
    if (event.target.closest?.(".picker-list [role=option]")) event.preventDefault();
  });

  document.addEventListener("click", (event) => {
    const option = event.target.closest?.(".picker-list [role=option]");
    if (option) {
      const container = option.closest(".picker-choices");
      const input = document.getElementById(container.dataset.pickerFor);
      if (input) choose(input, option);
      return;
    }
    // A click on the text box itself opens its list.
    const input = event.target;
    if (isPicker(input) && input.getAttribute("role") === "combobox") setOpen(input, true);
  });

  document.addEventListener("focusout", (event) => {
    const input = event.target;
    if (isPicker(input)) {
      typing.delete(input);
      setOpen(input, false);
    }
  });
})();
