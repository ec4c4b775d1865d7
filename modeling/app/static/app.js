// Drop or pick a photograph; post it to /ui/predict and show the server-rendered result.
// Without JavaScript the form posts to / and the server renders the same result.
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = document.getElementById("file-input");
  const slot = document.getElementById("result-slot");
  const working = document.getElementById("working");

  async function send(file) {
    const body = new FormData();
    body.append("file", file, file.name);
    working.hidden = false;
    form.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(form.dataset.endpoint, { method: "POST", body: body });
      slot.innerHTML = await response.text();
    } catch (_err) {
      slot.innerHTML = '<section class="result"><div class="card error-card" role="alert" id="result-error"><p></p></div></section>';
      // The browser's own reason ("TypeError: Failed to fetch") means nothing to a person.
      slot.querySelector("p").textContent = form.dataset.networkError;
    } finally {
      working.hidden = true;
      form.removeAttribute("aria-busy");
      input.value = "";
    }
  }

  input.addEventListener("change", function () {
    if (input.files && input.files[0]) send(input.files[0]);
  });
  ["dragenter", "dragover"].forEach(function (name) {
    form.addEventListener(name, function (event) {
      event.preventDefault();
      form.classList.add("dragging");
    });
  });
  ["dragleave", "drop"].forEach(function (name) {
    form.addEventListener(name, function (event) {
      event.preventDefault();
      form.classList.remove("dragging");
    });
  });
  form.addEventListener("drop", function (event) {
    const files = event.dataTransfer && event.dataTransfer.files;
    if (files && files[0]) send(files[0]);
  });
})();
