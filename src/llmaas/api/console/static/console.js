// llmaas console: the few things a server-rendered page cannot do alone. Changes go through the admin
// API with the session's CSRF token; no secret is ever stored by this script (the new key's secret is
// shown once in a dialog, and the playground's key lives in the form field only).
"use strict";

const csrf = () => document.body.dataset.csrf || "";

async function api(method, url, body) {
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: { "content-type": "application/json", "x-csrf-token": csrf() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = (data.error && data.error.message) || response.statusText;
    throw new Error(message);
  }
  return data;
}

function showError(form, error) {
  const box = form.querySelector("[data-form-error]");
  if (box) { box.textContent = error.message; box.hidden = false; }
}

function limitsOf(form) {
  const limits = {};
  for (const name of ["requests_per_minute", "tokens_per_minute"]) {
    const value = form.elements[name].value.trim();
    limits[name] = value === "" ? null : Number(value);
  }
  const budget = form.elements.monthly_budget_eur.value.trim();
  limits.monthly_budget_eur = budget === "" ? null : budget;
  return limits;
}

function checkedModels(form) {
  const models = [...form.querySelectorAll("input[name=allowed_models]:checked")].map((i) => i.value);
  return models.length ? models : null;
}

function wireKeys() {
  const create = document.querySelector("[data-create-key]");
  if (create) {
    create.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = {
        name: create.elements.name.value.trim(),
        allowed_models: checkedModels(create),
        limits: limitsOf(create),
      };
      const expires = create.elements.expires_on.value;
      if (expires) body.expires_at = expires + "T23:59:59Z";
      try {
        const issued = await api("POST", "/admin/v1/keys", body);
        document.getElementById("secret-value").textContent = issued.key;
        document.getElementById("secret-dialog").showModal();
      } catch (error) { showError(create, error); }
    });
  }
  for (const form of document.querySelectorAll("[data-update-key]")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await api("PATCH", "/admin/v1/keys/" + encodeURIComponent(form.dataset.updateKey), {
          allowed_models: checkedModels(form), limits: limitsOf(form),
        });
        location.reload();
      } catch (error) { showError(form, error); }
    });
  }
  for (const button of document.querySelectorAll("[data-rotate]")) {
    button.addEventListener("click", async () => {
      try {
        const issued = await api("POST", "/admin/v1/keys/" + encodeURIComponent(button.dataset.rotate) + "/rotate", {});
        document.getElementById("secret-value").textContent = issued.key;
        document.getElementById("secret-dialog").showModal();
      } catch (error) { alert(error.message); }
    });
  }
  for (const button of document.querySelectorAll("[data-revoke]")) {
    button.addEventListener("click", async () => {
      if (!confirm(button.dataset.confirm)) return;
      try {
        await api("POST", "/admin/v1/keys/" + encodeURIComponent(button.dataset.revoke) + "/revoke");
        location.reload();
      } catch (error) { alert(error.message); }
    });
  }
  const dialog = document.getElementById("secret-dialog");
  if (dialog) {
    dialog.querySelector("[data-close-dialog]").addEventListener("click", () => {
      document.getElementById("secret-value").textContent = "";
      dialog.close();
      location.reload();
    });
  }
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", async () => {
      const text = document.querySelector(button.dataset.copy).textContent;
      try {
        await navigator.clipboard.writeText(text);
      } catch {
        const range = document.createRange();
        range.selectNodeContents(document.querySelector(button.dataset.copy));
        getSelection().removeAllRanges();
        getSelection().addRange(range);
        document.execCommand("copy");
      }
      const copied = button.parentElement.querySelector("[data-copied]");
      if (copied) copied.hidden = false;
    });
  }
}

function wireOverview() {
  const live = document.querySelector("[data-live]");
  if (!live) return;
  const refresh = async () => {
    try {
      const response = await fetch(live.dataset.live, { credentials: "same-origin" });
      if (response.status === 401) { location.reload(); return; }
      if (!response.ok) return;
      const figures = await response.json();
      for (const element of live.querySelectorAll("[data-field]")) {
        const value = figures[element.dataset.field];
        if (value !== undefined) element.textContent = value;
      }
      const meter = live.querySelector("[data-field-value=budget_share]");
      if (meter) meter.value = figures.budget_share;
      drawSeries(live.querySelector("[data-series]"), figures.series);
    } catch { /* offline for a moment: the next tick tries again */ }
  };
  setInterval(refresh, 5000);
}

function drawSeries(svg, series) {
  if (!svg || !series) return;
  const peak = Math.max(1, ...series.map((point) => point[0]));
  const ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren(...series.map((point, index) => {
    const rect = document.createElementNS(ns, "rect");
    const height = 40 * point[0] / peak;
    rect.setAttribute("x", String(index * 10));
    rect.setAttribute("width", "8");
    rect.setAttribute("y", String(40 - height));
    rect.setAttribute("height", String(height));
    rect.setAttribute("class", "ok");
    return rect;
  }));
}

function wirePlayground() {
  const form = document.querySelector("[data-playground]");
  if (!form) return;
  const output = document.querySelector("[data-playground-output]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    output.textContent = "";
    const response = await fetch("/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer " + form.elements.api_key.value.trim() },
      body: JSON.stringify({
        model: form.elements.model.value, stream: true, max_tokens: 200,
        messages: [{ role: "user", content: form.elements.message.value }],
      }),
    });
    if (!response.ok) {
      const data = await response.json().catch(() => ({}));
      output.textContent = (data.error && data.error.message) || response.statusText;
      return;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
          const chunk = JSON.parse(line.slice(6));
          const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
          if (delta && delta.content) output.textContent += delta.content;
        }
      }
    }
  });
}

function wireAutosubmit() {
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.submit());
  }
}

document.addEventListener("DOMContentLoaded", () => {
  wireKeys();
  wireOverview();
  wirePlayground();
  wireAutosubmit();
});
