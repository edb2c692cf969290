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

/**
 * Controls for parameters whose choices the installation knows (GET /v1/languages): the
 * languages to translate into as boxes to tick, the language heard as a list, a voice per
 * language. Any other parameter gets the control its value's type suggests.
 */
function choiceControl(component, name, value, catalog) {
  const key = `${component}.${name}`;
  if (key === "translate.languages") {
    const offered = [...new Set([...catalog.translate.llm, ...catalog.translate.apertium])].sort();
    return h(
      "fieldset",
      { class: "choices", "data-kind": "choices", "data-name": key },
      h("legend", {}, "Translate into"),
      offered.map((code) =>
        field(code, h("input", { type: "checkbox", value: code, checked: value.includes(code), "data-choice": "" })),
      ),
    );
  }
  if (key === "transcribe.language" && typeof value === "string") {
    const options = ["auto", ...catalog.transcribe].map((code) =>
      h("option", { value: code, selected: code === value }, code === "auto" ? "auto (detect)" : code),
    );
    return h("select", { name: key, "data-kind": "string" }, options);
  }
  if (key === "dub.voices") {
    return h("div", { class: "voices", "data-kind": "voices", "data-name": key, "data-value": JSON.stringify(value) });
  }
  return null;
}

/** The voice boxes of dub: one per language being translated into, the best voice first. */
function drawVoices(form, catalog) {
  const holder = form.querySelector('[data-kind="voices"]');
  if (!holder) return;
  const given = JSON.parse(holder.dataset.value || "{}");
  const chosen = Object.fromEntries([...holder.querySelectorAll("select")].map((select) => [select.dataset.language, select.value]));
  const languages = [...form.querySelectorAll('[data-name="translate.languages"] [data-choice]:checked')].map((box) => box.value);
  holder.replaceChildren(
    ...languages.map((language) => {
      const voices = catalog.speech[language] || [];
      const current = chosen[language] ?? given[language] ?? "";
      const select = h(
        "select",
        { "data-language": language },
        h("option", { value: "" }, voices.length ? `best installed (${voices[0]})` : "no voice here speaks it"),
        voices.map((voice) => h("option", { value: voice, selected: voice === current }, voice)),
      );
      return field(`Voice for ${language}`, select);
    }),
  );
  if (!languages.length) holder.append(h("p", { class: "muted small" }, "Tick the languages to translate into first."));
}

function control(component, name, value, catalog) {
  const special = catalog ? choiceControl(component, name, value, catalog) : null;
  if (special) return special;
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
  if (input.dataset.kind === "choices") {
    return [...input.querySelectorAll("[data-choice]:checked")].map((box) => box.value);
  }
  if (input.dataset.kind === "voices") {
    const voices = [...input.querySelectorAll("select")].filter((select) => select.value);
    return Object.fromEntries(voices.map((select) => [select.dataset.language, select.value]));
  }
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

function componentFieldset(component, parameters, catalog) {
  const names = Object.keys(parameters);
  const body = names.length
    ? names.map((name) => {
        const input = control(component, name, parameters[name], catalog);
        const hint = `Default: ${describe(parameters[name])}`;
        // A group of boxes is its own fieldset with a legend; the rest are labelled fields.
        return input.tagName === "FIELDSET" || input.dataset.kind === "voices"
          ? h("div", { class: "field" }, input, h("p", { class: "hint" }, hint))
          : field(name.replaceAll("_", " "), input, hint);
      })
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
    const [component, name] = (input.name || input.dataset.name).split(".");
    const value = read(input);
    if (JSON.stringify(value) !== JSON.stringify(profile.parameters[component][name])) {
      (changed[component] ??= {})[name] = value;
    }
  }
  return changed;
}

export async function render(main, { params, signal }) {
  const id = encodeURIComponent(params.id);
  const [video, profiles, catalog] = await Promise.all([
    api(`/v1/videos/${id}`, { signal }),
    api("/v1/profiles", { signal }),
    api("/v1/languages", { signal }).catch(() => null), // without it, plain fields
  ]);
  setTitle(`New run of ${video.filename}`);
  const chosen = () => profiles.find((profile) => profile.name === form.elements.profile.value);
  const settings = h("div", { class: "components" });
  const review = h("fieldset", { class: "choices review-choices" });
  const problem = h("div", { "aria-live": "polite" });
  const drawSettings = () => {
    const profile = chosen();
    problem.replaceChildren(
      profile.problem
        ? h("p", { class: "notice" }, `As it is, this profile cannot run here: ${profile.problem}. Change the setting it names below.`)
        : "",
    );
    settings.replaceChildren(
      ...Object.entries(profile.parameters).map(([component, parameters]) => componentFieldset(component, parameters, catalog)),
    );
    if (catalog) drawVoices(form, catalog);
    review.hidden = !profile.reviewable?.length;
    review.replaceChildren(
      h("legend", {}, "Stop for review after"),
      h("p", { class: "hint" }, "The run waits for you to check and correct what it made before it goes on."),
      ...(profile.reviewable || []).map((name) => field(name, h("input", { type: "checkbox", value: name, "data-review": "" }))),
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
    problem,
    settings,
    review,
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
        json: {
          video_id: video.id,
          profile: profile.name,
          params: changed,
          use_cache: useCache.checked,
          review: [...review.querySelectorAll("[data-review]:checked")].map((box) => box.value),
        },
      });
      await navigate(`/runs/${encodeURIComponent(run.id)}`);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status >= 500 || error.status === 404) throw error;
      message.show(error.message);
    } finally {
      submit.disabled = false;
    }
  });
  if (catalog) {
    settings.addEventListener("change", (event) => {
      if (event.target.closest('[data-name="translate.languages"]')) drawVoices(form, catalog);
    });
  }
  main.append(
    h("p", { class: "crumbs" }, h("a", { href: "/videos" }, "Videos"), " / ", h("a", { href: `/videos/${id}` }, video.filename), " / "),
    h("h1", {}, "Start a run"),
    form,
  );
  drawSettings();
}
