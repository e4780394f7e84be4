// Ecosire pages: everything reads and submits without this script; it only adds conveniences.
"use strict";

// Copy buttons: <button data-copy="element-id" hidden> copies that element's text.
function enableCopyButtons() {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    if (!navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      if (!source) return;
      const label = button.textContent;
      try {
        await navigator.clipboard.writeText(source.value ?? source.textContent);
        button.textContent = "Copied";
      } catch {
        button.textContent = "Select and copy";
      }
      setTimeout(() => { button.textContent = label; }, 2000);
    });
  }
}

// Forms marked data-confirm ask before they submit (the revoke page is already a confirmation).
function enableConfirmations() {
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  enableCopyButtons();
  enableConfirmations();
});
