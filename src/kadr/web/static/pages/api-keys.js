// API keys: create one (its secret is shown once, here), list them, revoke one.
// The scopes offered are the API's own (its OpenAPI document), not a list kept here.

import { ApiError, api } from "../api.js";
import { field, formatDate, h, messageArea, setTitle } from "../ui.js";

async function scopesOfTheApi() {
  try {
    const document = await api("/openapi.json", { auth: false });
    return document.components.schemas.Scope.enum;
  } catch {
    return ["videos:read", "runs:read"];
  }
}

function keyRow(key, onRevoked) {
  const revoke = h("button", { type: "button", class: "danger" }, "Revoke");
  revoke.setAttribute("aria-label", `Revoke the key ${key.name}`);
  let armed = false;
  revoke.addEventListener("click", async () => {
    if (!armed) {
      armed = true; // a second press confirms: a revoked key stops working at once
      revoke.textContent = "Press again to revoke";
      return;
    }
    revoke.disabled = true;
    await api(`/v1/api-keys/${encodeURIComponent(key.id)}`, { method: "DELETE" });
    onRevoked();
  });
  return h(
    "tr",
    {},
    h("th", { scope: "row" }, key.name),
    h("td", {}, h("code", {}, `${key.prefix}…`)),
    h("td", {}, key.scopes.join(", ")),
    h("td", {}, formatDate(key.created_at)),
    h("td", {}, key.last_used_at ? formatDate(key.last_used_at) : "never"),
    h("td", {}, revoke),
  );
}

function secretBox(created) {
  const value = h("input", { type: "text", readOnly: true, value: created.key, class: "secret" });
  const copy = h("button", { type: "button" }, "Copy");
  copy.addEventListener("click", async () => {
    value.select();
    try {
      await navigator.clipboard.writeText(created.key);
      copy.textContent = "Copied";
    } catch {
      copy.textContent = "Selected: press Ctrl+C";
    }
  });
  return h(
    "section",
    { class: "card secret-box", "aria-labelledby": "new-key-heading" },
    h("h2", { id: "new-key-heading" }, `Your new key “${created.name}”`),
    h("p", { role: "status" }, "Copy it now: this is the only time kadr shows it."),
    h("div", { class: "row" }, field("API key", value), copy),
    h("p", { class: "hint" }, "Send it as X-API-Key: <key>, or Authorization: Bearer <key>."),
  );
}

export async function render(main) {
  setTitle("API keys");
  const [page, scopes] = await Promise.all([api("/v1/api-keys?limit=200"), scopesOfTheApi()]);
  const fresh = h("div", {});
  const list = h("div", {});
  const drawList = (keys) => {
    if (!keys.length) {
      list.replaceChildren(h("p", { class: "empty" }, "No API keys yet. Create one above for scripts and other programs."));
      return;
    }
    const reload = async () => drawList((await api("/v1/api-keys?limit=200")).items);
    list.replaceChildren(
      h(
        "div",
        { class: "table-scroll" },
        h(
          "table",
          {},
          h("caption", { class: "visually-hidden" }, "Your API keys"),
          h(
            "thead",
            {},
            h("tr", {}, ...["Name", "Key", "Scopes", "Created", "Last used", ""].map((t) => h("th", { scope: "col" }, t))),
          ),
          h("tbody", {}, keys.map((key) => keyRow(key, reload))),
        ),
      ),
    );
  };

  const name = h("input", { type: "text", required: true, maxLength: 100, placeholder: "CI uploader" });
  const boxes = scopes.map((scope) =>
    h("input", { type: "checkbox", name: "scope", value: scope, defaultChecked: scope.endsWith(":read") }),
  );
  const message = messageArea();
  const submit = h("button", { type: "submit", class: "primary" }, "Create key");
  const form = h(
    "form",
    { class: "card" },
    field("Name", name, "To tell your keys apart."),
    h(
      "fieldset",
      { class: "scopes" },
      h("legend", {}, "What the key may do"),
      boxes.map((box) => field(box.value, box)),
    ),
    message,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.clear();
    const chosen = boxes.filter((box) => box.checked).map((box) => box.value);
    if (!chosen.length) {
      message.show("Choose at least one thing the key may do.");
      return;
    }
    submit.disabled = true;
    try {
      const created = await api("/v1/api-keys", { method: "POST", json: { name: name.value, scopes: chosen } });
      fresh.replaceChildren(secretBox(created));
      form.reset();
      drawList((await api("/v1/api-keys?limit=200")).items);
      fresh.querySelector("input").focus();
    } catch (error) {
      if (!(error instanceof ApiError) || error.status >= 500) throw error;
      message.show(error.message);
    } finally {
      submit.disabled = false;
    }
  });
  drawList(page.items);
  main.append(
    h("h1", {}, "API keys"),
    h("p", { class: "muted" }, "Keys let programs use kadr's API as you, limited to what you allow."),
    fresh,
    h("h2", {}, "New key"),
    form,
    h("h2", {}, "Your keys"),
    list,
  );
}
