// Start a run: choose a profile, adjust its components' parameters, go. The form is made from
// what GET /v1/profiles says (each profile's components and every parameter with its value),
// so a new component or parameter shows up here without a change to this page.

import { ApiError, api, idempotencyKey } from "../api.js";
import { navigate } from "../router.js";
import { field, h, messageArea, setTitle } from "../ui.js";

/** How a parameter is edited and read back, judged from its default value. */
function kindOf(value) {
  if (typeof value === "boolean") return "boolean";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  if (typeof value === "string") return "string";
  if (value === null) return "optional";
  if (Array.isArray(value)) return value.every((item) => typeof item === "number") && value.length ? "numbers" : "list";
  return "json";
}

function control(component, name, value) {
  const kind = kindOf(value);
  const attributes = { name: `${component}.${name}`, "data-kind": kind };
  switch (kind) {
    case "boolean":
      return h("input", { ...attributes, type: "checkbox", checked: value });
    case "integer":
      return h("input", { ...attributes, type: "number", step: 1, value: String(value), inputMode: "numeric" });
    case "number":
      return h("input", { ...attributes, type: "number", step: "any", value: String(value), inputMode: "decimal" });
    case "optional":
      return h("input", { ...attributes, type: "text", value: "", placeholder: "automatic" });
    case "list":
    case "numbers":
      return h("input", { ...attributes, type: "text", value: value.join(", "), placeholder: "none" });
    case "json":
      return h("textarea", { ...attributes, rows: 3 }, JSON.stringify(value, null, 2));
    default:
      return h("input", { ...attributes, type: "text", value: String(value) });
  }
}

function describe(value) {
  if (value === null) return "automatic";
  if (Array.isArray(value)) return value.length ? value.join(", ") : "none";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** The value a control holds, in the parameter's type; throws naming the field when it cannot. */
function read(input) {
  const text = input.value.trim();
  switch (input.dataset.kind) {
    case "boolean":
      return input.checked;
    case "integer":
    case "number": {
      if (text === "" || Number.isNaN(Number(text))) throw new Error(`${input.name} must be a number`);
      return Number(text);
    }
    case "optional":
      return text === "" ? null : text;
    case "list":
      return text.split(",").map((item) => item.trim()).filter(Boolean);
    case "numbers":
      return text.split(",").map((item) => item.trim()).filter(Boolean).map(Number);
    case "json":
      try {
        return JSON.parse(text);
      } catch {
        throw new Error(`${input.name} must be JSON`);
      }
    default:
      return input.value;
  }
}

function componentFieldset(component, parameters) {
  const names = Object.keys(parameters);
  const body = names.length
    ? names.map((name) =>
        field(name.replaceAll("_", " "), control(component, name, parameters[name]), `Default: ${describe(parameters[name])}`),
      )
    : [h("p", { class: "muted small" }, "Nothing to set.")];
  return h(
    "details",
    { class: "component" },
    h("summary", {}, component, h("span", { class: "muted small" }, ` · ${names.length} setting${names.length === 1 ? "" : "s"}`)),
    h("fieldset", {}, h("legend", { class: "visually-hidden" }, `${component} settings`), body),
  );
}

/** Only what differs from the profile: {component: {parameter: value}}. */
function overrides(form, profile) {
  const changed = {};
  for (const input of form.querySelectorAll("[data-kind]")) {
    const [component, name] = input.name.split(".");
    const value = read(input);
    if (JSON.stringify(value) !== JSON.stringify(profile.parameters[component][name])) {
      (changed[component] ??= {})[name] = value;
    }
  }
  return changed;
}

export async function render(main, { params, signal }) {
  const id = encodeURIComponent(params.id);
  const [video, profiles] = await Promise.all([api(`/v1/videos/${id}`, { signal }), api("/v1/profiles", { signal })]);
  setTitle(`New run of ${video.filename}`);
  const chosen = () => profiles.find((profile) => profile.name === form.elements.profile.value);
  const settings = h("div", { class: "components" });
  const drawSettings = () => {
    const profile = chosen();
    settings.replaceChildren(
      ...Object.entries(profile.parameters).map(([component, parameters]) => componentFieldset(component, parameters)),
    );
  };
  const choices = profiles.map((profile, index) =>
    field(
      profile.name,
      h("input", { type: "radio", name: "profile", value: profile.name, checked: index === 0, onchange: drawSettings }),
      profile.description || null,
    ),
  );
  const useCache = h("input", { type: "checkbox", name: "use_cache", checked: true });
  const message = messageArea();
  const submit = h("button", { type: "submit", class: "primary" }, "Start run");
  const form = h(
    "form",
    { class: "card" },
    h("fieldset", { class: "profiles" }, h("legend", {}, "Profile"), choices),
    h("h2", {}, "Settings"),
    h("p", { class: "hint" }, "Each component of the chosen profile, with the values it runs with. Change any."),
    settings,
    field("Reuse an identical recent run instead of computing again", useCache),
    message,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.clear();
    const profile = chosen();
    let changed;
    try {
      changed = overrides(form, profile);
    } catch (error) {
      message.show(error.message);
      return;
    }
    submit.disabled = true;
    try {
      const run = await api("/v1/runs", {
        method: "POST",
        headers: { "Idempotency-Key": idempotencyKey() },
        json: { video_id: video.id, profile: profile.name, params: changed, use_cache: useCache.checked },
      });
      await navigate(`/runs/${encodeURIComponent(run.id)}`);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status >= 500 || error.status === 404) throw error;
      message.show(error.message);
    } finally {
      submit.disabled = false;
    }
  });
  main.append(
    h("p", { class: "crumbs" }, h("a", { href: "/videos" }, "Videos"), " / ", h("a", { href: `/videos/${id}` }, video.filename), " / "),
    h("h1", {}, "Start a run"),
    form,
  );
  drawSettings();
}
