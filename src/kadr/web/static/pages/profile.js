// Profile: the name others see, the language and the time zone (PATCH /v1/me sends only what
// changed; an empty field clears the choice).

import { ApiError, api, updateUser } from "../api.js";
import { field, formatDate, h, messageArea, setTitle, uid } from "../ui.js";

function zoneList() {
  const list = h("datalist", { id: uid("zones") });
  const zones = Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : [];
  list.append(...zones.map((zone) => h("option", { value: zone })));
  return list;
}

export async function render(main) {
  setTitle("Profile");
  const user = await api("/v1/me");
  const zones = zoneList();
  const inputs = {
    display_name: h("input", { type: "text", value: user.display_name, maxLength: 100, autocomplete: "name" }),
    default_language: h("input", {
      type: "text",
      value: user.default_language ?? "",
      maxLength: 8,
      placeholder: "en",
      autocomplete: "off",
    }),
    locale: h("input", { type: "text", value: user.locale ?? "", maxLength: 35, placeholder: "en-GB" }),
    timezone: h("input", {
      type: "text",
      value: user.timezone ?? "",
      list: zones.id,
      placeholder: "Europe/Berlin",
      autocomplete: "off",
    }),
  };
  const message = messageArea();
  const submit = h("button", { type: "submit", class: "primary" }, "Save");
  const form = h(
    "form",
    { class: "card narrow" },
    field("Name", inputs.display_name, "Shown in the header and on what you share."),
    field("Language", inputs.default_language, "Two letters (ISO 639-1): the language AI writing uses for you."),
    field("Locale", inputs.locale, "A language tag like en-GB, for dates and numbers."),
    field("Time zone", inputs.timezone, "Where you are (IANA name); dates are shown in it."),
    zones,
    message,
    submit,
  );
  let saved = user;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.clear();
    const changes = {};
    for (const [name, input] of Object.entries(inputs)) {
      const value = input.value.trim();
      const before = saved[name] ?? "";
      if (value !== before) changes[name] = value === "" && name !== "display_name" ? null : value;
    }
    if (!Object.keys(changes).length) {
      message.show("Nothing changed.", "success");
      return;
    }
    submit.disabled = true;
    try {
      saved = await api("/v1/me", { method: "PATCH", json: changes });
      updateUser(saved);
      message.show("Saved.", "success");
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 422) throw error;
      message.show(error.message);
    } finally {
      submit.disabled = false;
    }
  });
  main.append(
    h("h1", {}, "Profile"),
    h("p", { class: "muted" }, `Signed in as ${user.email} · member since ${formatDate(user.created_at)}`),
    form,
  );
}
