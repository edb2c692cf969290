// Small DOM helpers shared by the pages. Text always goes in as text nodes, never as HTML:
// what users and the API write cannot become markup.

let lastId = 0;

/** A unique element id, for label/for and aria-describedby pairs. */
export function uid(prefix = "id") {
  lastId += 1;
  return `${prefix}-${lastId}`;
}

/**
 * Make an element: h("a", { href: "/x", class: "button" }, "Go").
 * Attributes starting with "on" become listeners; `false`/`null` attributes are left out;
 * children may be strings, nodes, arrays, or null (skipped).
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "class") {
      element.className = value;
    } else if (name in element && !name.startsWith("aria-") && !name.startsWith("data-") && name !== "list") {
      element[name] = value;
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** A labelled form control: the label names the control, the hint describes it. */
export function field(labelText, control, hint = null) {
  control.id ||= uid("field");
  const wrapper = h("div", { class: "field" });
  const label = h("label", { for: control.id }, labelText);
  if (control.type === "checkbox" || control.type === "radio") {
    wrapper.classList.add("field-check");
    wrapper.append(control, label);
  } else {
    wrapper.append(label, control);
  }
  if (hint) {
    const hintElement = h("p", { class: "hint", id: uid("hint") }, hint);
    control.setAttribute("aria-describedby", hintElement.id);
    wrapper.append(hintElement);
  }
  return wrapper;
}

/** A message area for a form's outcome: errors are announced at once, other news politely. */
export function messageArea() {
  const area = h("div", { class: "message", "aria-live": "polite" });
  area.show = (text, kind = "error") => {
    area.replaceChildren(h("p", { class: kind, role: kind === "error" ? "alert" : "status" }, text));
  };
  area.clear = () => area.replaceChildren();
  return area;
}

export function setTitle(text) {
  document.title = text ? `${text} · kadr` : "kadr";
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
  const total = Math.round(seconds);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = String(total % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${secs}` : `${minutes}:${secs}`;
}

/** Seconds with one decimal as m:ss.s, for word and highlight times. */
export function formatTime(seconds) {
  const minutes = Math.floor(seconds / 60);
  const rest = (seconds - minutes * 60).toFixed(1).padStart(4, "0");
  return `${minutes}:${rest}`;
}

export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return "–";
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit ? value.toFixed(value < 10 ? 1 : 0) : value} ${units[unit]}`;
}

let timeZone;

/** Dates in the user's chosen time zone (profile), else the browser's. */
export function useTimeZone(zone) {
  timeZone = zone || undefined;
}

/** The time zone dates are shown in: the user's, else the browser's. */
export function currentTimeZone() {
  return timeZone || Intl.DateTimeFormat().resolvedOptions().timeZone;
}

function wallClock(ms, zone) {
  const parts = {};
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
  for (const part of format.formatToParts(new Date(ms))) parts[part.type] = part.value;
  return parts;
}

function zoneOffsetMs(ms, zone) {
  const p = wallClock(ms, zone);
  return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - Math.floor(ms / 1000) * 1000;
}

/** An instant as a datetime-local value ("2026-05-01T14:30") on the clock of the current time zone. */
export function toZonedInput(iso) {
  const p = wallClock(new Date(iso).getTime(), currentTimeZone());
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}

/** A datetime-local value read on the clock of the current time zone, as an ISO instant (UTC). */
export function fromZonedInput(value) {
  const [date, time] = value.split("T");
  const [year, month, day] = date.split("-").map(Number);
  const [hour, minute] = time.split(":").map(Number);
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  const zone = currentTimeZone();
  let instant = wall - zoneOffsetMs(wall, zone);
  instant = wall - zoneOffsetMs(instant, zone); // again at the instant itself: across a DST change
  return new Date(instant).toISOString();
}

/** The calendar day of an instant in the current time zone, as "2026-05-01" (sortable). */
export function dayKey(iso) {
  const p = wallClock(new Date(iso).getTime(), currentTimeZone());
  return `${p.year}-${p.month}-${p.day}`;
}

export function formatDay(iso) {
  return new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeZone: currentTimeZone() }).format(new Date(iso));
}

export function formatClock(iso) {
  return new Intl.DateTimeFormat(undefined, { timeStyle: "short", timeZone: currentTimeZone() }).format(new Date(iso));
}

/**
 * A button that acts on the second press (the first one asks), for what cannot be undone:
 * dangerButton("Delete", "Press again to delete", `Delete ${name}`, async () => ...).
 */
export function dangerButton(text, confirmText, label, act) {
  const button = h("button", { type: "button", class: "danger", "aria-label": label }, text);
  let armed = false;
  button.addEventListener("click", async () => {
    if (!armed) {
      armed = true;
      button.textContent = confirmText;
      button.removeAttribute("aria-label"); // the new text says what the next press does
      return;
    }
    button.disabled = true;
    try {
      await act();
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

/** A secret shown once, read-only, with a Copy button beside it. */
export function secretField(labelText, value) {
  const input = h("input", { type: "text", readOnly: true, value, class: "secret" });
  const copy = h("button", { type: "button" }, "Copy");
  copy.addEventListener("click", async () => {
    input.select();
    try {
      await navigator.clipboard.writeText(value);
      copy.textContent = "Copied";
    } catch {
      copy.textContent = "Selected: press Ctrl+C";
    }
  });
  return h("div", { class: "row" }, field(labelText, input), copy);
}

export function formatDate(iso) {
  if (!iso) return "–";
  try {
    return new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short", timeZone }).format(
      new Date(iso),
    );
  } catch {
    return new Date(iso).toLocaleString();
  }
}

/** A <progress> with its percentage in words beside it (a bar alone says nothing to some users). */
export function progressBar(label, percent = 0) {
  const bar = h("progress", { max: 100, value: percent, "aria-label": label });
  const text = h("span", { class: "percent" }, `${Math.floor(percent)} %`);
  const wrapper = h("div", { class: "progress" }, bar, text);
  wrapper.set = (value) => {
    bar.value = value;
    text.textContent = `${Math.floor(value)} %`;
  };
  return wrapper;
}

/** The page-wide banner (API down, session news); `retry` adds a button that calls it. */
export function showBanner(message, retry = null) {
  const banner = document.getElementById("banner");
  banner.replaceChildren(h("p", {}, message));
  if (retry) {
    banner.append(h("button", { type: "button", onclick: retry }, "Try again"));
  }
  banner.hidden = false;
}

export function hideBanner() {
  const banner = document.getElementById("banner");
  banner.hidden = true;
  banner.replaceChildren();
}

/** A status in words: what the API calls `running` a person reads as "Running". */
const STATUS_WORDS = {
  queued: "Waiting for a worker",
  running: "Running",
  succeeded: "Done",
  failed: "Failed",
  cancelled: "Cancelled",
  skipped: "Skipped",
  cached: "Reused",
  edited: "Edited",
  pending: "Waiting",
  awaiting_review: "Waiting for your review",
  // scenarios, channels, publications
  ready: "Ready",
  generating: "Writing",
  ok: "Working",
  needs_reauth: "Needs reconnecting",
  error: "Not working",
  scheduled: "Scheduled",
  publishing: "Publishing",
  published: "Published",
};

export function statusWords(status) {
  return STATUS_WORDS[status] ?? status.replaceAll("_", " ");
}

export function statusBadge(status) {
  return h("span", { class: `badge badge-${status}` }, statusWords(status));
}
