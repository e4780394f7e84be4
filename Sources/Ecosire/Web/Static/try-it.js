// The reference's "Try it" form: sends the operation from this browser and shows the answer.
// The page reads without this script; only the form needs it.
"use strict";

function cookie(name) {
  const found = document.cookie.split("; ").find((part) => part.startsWith(name + "="));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : null;
}

function requestURL(form) {
  let path = form.dataset.path;
  for (const input of form.querySelectorAll("[data-path-parameter]")) {
    path = path.replace("{" + input.dataset.pathParameter + "}", encodeURIComponent(input.value.trim()));
  }
  const query = new URLSearchParams();
  for (const input of form.querySelectorAll("[data-query-parameter]")) {
    if (input.value !== "") query.append(input.dataset.queryParameter, input.value);
  }
  const text = query.toString();
  return path + (text ? "?" + text : "");
}

async function send(form) {
  const method = form.dataset.method;
  const headers = { Accept: "application/json, application/problem+json, */*" };
  const key = form.querySelector("#try-key").value.trim();
  if (key) headers.Authorization = "Bearer " + key;
  const csrf = cookie("ecosire_csrf");
  if (!key && csrf) headers["X-CSRF-Token"] = csrf;
  const idempotency = form.querySelector("#try-idempotency");
  if (idempotency && idempotency.value.trim()) headers["Idempotency-Key"] = idempotency.value.trim();
  const bodyField = form.querySelector("#try-body");
  let body;
  if (bodyField && method !== "GET" && method !== "DELETE") {
    headers["Content-Type"] = "application/json";
    body = bodyField.value;
  }
  const status = document.getElementById("try-status");
  const shownHeaders = document.getElementById("try-headers");
  const shownBody = document.getElementById("try-response");
  document.getElementById("try-result").hidden = false;
  status.textContent = "…";
  try {
    const response = await fetch(requestURL(form), { method, headers, body, credentials: "same-origin" });
    status.textContent = response.status + " " + response.statusText;
    shownHeaders.textContent = [...response.headers].map(([name, value]) => name + ": " + value).join("\n");
    const text = await response.text();
    try {
      shownBody.textContent = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      shownBody.textContent = text;
    }
  } catch (error) {
    status.textContent = "not sent";
    shownHeaders.textContent = "";
    shownBody.textContent = String(error);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("try-form");
  if (!form) return;
  const button = document.getElementById("try-send");
  button.disabled = false;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send(form);
  });
});
