// A scenario's editor and its live timing check, and its read-only view.
//
// The check is the API's own rule (kadr/scenarios/checks.py), done again here so that it shows
// while the user types: the scene durations must add up to the target within 10 %, and each
// scene's narration must be speakable in its duration at the words per minute (10 % faster at
// most). The API checks again on save and its 422 names the scene; this only says it sooner.

import { field, formatDuration, h, uid } from "./ui.js";

export const PLATFORMS = [
  ["youtube_shorts", "YouTube Shorts"],
  ["youtube", "YouTube"],
  ["tiktok", "TikTok"],
  ["reels", "Instagram Reels"],
  ["telegram", "Telegram"],
  ["vk_clips", "VK Clips"],
  ["other", "Other"],
];
export const ASPECTS = ["9:16", "16:9", "1:1", "4:5"];
const TOLERANCE = 0.1;
const WORDS_PER_MINUTE = { en: 150, ru: 130, uk: 130, de: 130, pl: 130, fr: 150, es: 160, it: 150 };
const OTHER_WORDS_PER_MINUTE = 140;
const WORD = /[\p{L}\p{N}_]+(?:[-'\u2019][\p{L}\p{N}_]+)*/gu;

export function platformWords(platform) {
  return (PLATFORMS.find(([value]) => value === platform) ?? [platform, platform])[1];
}

export function defaultWordsPerMinute(language) {
  return WORDS_PER_MINUTE[(language || "en").split("-")[0].toLowerCase()] ?? OTHER_WORDS_PER_MINUTE;
}

export function countWords(text) {
  return (text.match(WORD) || []).length;
}

function maxWords(seconds, wordsPerMinute) {
  return Math.floor((seconds * wordsPerMinute * (1 + TOLERANCE)) / 60 + 0.5);
}

const seconds = (value) => `${Math.round(value * 10) / 10} s`;

/** The timing of scenes against a target, in words: what the live check panel says. */
export function timingCheck(scenes, target, wordsPerMinute) {
  const total = scenes.reduce((sum, scene) => sum + (Number(scene.duration_s) || 0), 0);
  const low = target * (1 - TOLERANCE);
  const high = target * (1 + TOLERANCE);
  const perScene = scenes.map((scene) => {
    const words = countWords(scene.narration);
    const most = maxWords(Number(scene.duration_s) || 0, wordsPerMinute);
    return { words, most, fits: words <= most };
  });
  let summary;
  if (!target) summary = "Set a target duration to check the timing.";
  else if (total < low) {
    summary = `The scenes last ${seconds(total)} in all: ${seconds(low - total)} short of the ${seconds(low)} a ${seconds(target)} target needs at least (±10 %). Lengthen a scene or add one.`;
  } else if (total > high) {
    summary = `The scenes last ${seconds(total)} in all: ${seconds(total - high)} more than the ${seconds(high)} a ${seconds(target)} target allows (±10 %). Shorten a scene or remove one.`;
  } else {
    summary = `The scenes last ${seconds(total)} in all, within the ${seconds(target)} target (${seconds(low)}–${seconds(high)} allowed).`;
  }
  const wordy = perScene.map((check, i) => (check.fits ? null : i + 1)).filter(Boolean);
  if (wordy.length) {
    summary += ` ${wordy.length === 1 ? "Scene" : "Scenes"} ${wordy.join(", ")} ${wordy.length === 1 ? "says" : "say"} more than ${wordy.length === 1 ? "its" : "their"} time holds.`;
  }
  const fits = Boolean(target) && total >= low && total <= high && !wordy.length;
  return { total, low, high, fits, perScene, summary };
}

function sceneCard(scene, readOnly, onRemove) {
  const inputs = {
    duration_s: h("input", { type: "number", min: 0.1, max: 1800, step: 0.1, value: scene.duration_s, required: true, name: "duration_s" }),
    narration: h("textarea", { rows: 3, maxLength: 2000, value: scene.narration, name: "narration" }),
    visual: h("textarea", { rows: 2, maxLength: 600, value: scene.visual, name: "visual" }),
    shot: h("input", { type: "text", maxLength: 120, value: scene.shot, name: "shot", placeholder: "close-up, wide, screen capture…" }),
    on_screen_text: h("input", { type: "text", maxLength: 200, value: scene.on_screen_text ?? "", name: "on_screen_text" }),
  };
  for (const input of Object.values(inputs)) input.disabled = readOnly;
  const heading = h("h3", { id: uid("scene") }, "Scene");
  const remove = readOnly ? null : h("button", { type: "button", class: "danger small-button", onclick: () => onRemove(card) }, "Remove");
  const check = h("p", { class: "scene-check hint", id: uid("check") });
  const problem = h("p", { class: "error", hidden: true });
  const card = h(
    "li",
    { class: "scene card", "aria-labelledby": heading.id },
    h("div", { class: "heading-row" }, heading, remove),
    h(
      "div",
      { class: "scene-fields" },
      field("Duration (seconds)", inputs.duration_s),
      field("Shot", inputs.shot),
    ),
    field("Narration", inputs.narration),
    check,
    field("What is seen", inputs.visual),
    field("Text on screen", inputs.on_screen_text),
    scene.source_start !== null && scene.source_start !== undefined
      ? h("p", { class: "hint" }, `From the source video: ${formatDuration(scene.source_start)}–${formatDuration(scene.source_end)}`)
      : null,
    problem,
  );
  card.inputs = inputs;
  card.source = { source_start: scene.source_start ?? null, source_end: scene.source_end ?? null };
  card.heading = heading;
  card.removeButton = remove;
  card.check = check;
  card.problem = problem;
  inputs.narration.setAttribute("aria-describedby", check.id);
  return card;
}

function emptyScene(seconds) {
  return { duration_s: seconds, narration: "", visual: "", shot: "", on_screen_text: "" };
}

/**
 * The editor of a scenario's content. `element` to put on the page; `content()` the JSON the
 * API takes (POST/PUT); `showProblems(problems)` marks the scenes a 422 named.
 */
export function scenarioEditor(scenario, { readOnly = false, fallbackLanguage = "en" } = {}) {
  const basics = {
    title: h("input", { type: "text", maxLength: 200, required: true, value: scenario.title }),
    logline: h("input", { type: "text", maxLength: 500, value: scenario.logline }),
    platform: h("select", {}, PLATFORMS.map(([value, words]) => h("option", { value }, words))),
    aspect: h("select", {}, h("option", { value: "" }, "The platform's usual"), ASPECTS.map((aspect) => h("option", { value: aspect }, aspect))),
    language: h("input", { type: "text", maxLength: 16, value: scenario.language ?? "", placeholder: fallbackLanguage, autocomplete: "off" }),
    target_duration_s: h("input", { type: "number", min: 5, max: 1800, step: 1, required: true, value: scenario.target_duration_s }),
    words_per_minute: h("input", { type: "number", min: 60, max: 300, step: 1, value: scenario.words_per_minute ?? "" }),
    hook: h("textarea", { rows: 2, maxLength: 500, value: scenario.hook }),
    call_to_action: h("input", { type: "text", maxLength: 300, value: scenario.call_to_action }),
  };
  basics.platform.value = scenario.platform;
  basics.aspect.value = scenario.aspect ?? "";
  for (const input of Object.values(basics)) input.disabled = readOnly;
  const wordsHint = h("p", { class: "hint" });
  const meter = h("meter", { min: 0, "aria-hidden": "true" });
  const summary = h("p", { class: "timing-summary", role: "status", "aria-live": "polite" });
  const panel = h("section", { class: "timing card", "aria-label": "Timing" }, h("h2", {}, "Timing"), meter, summary);
  const scenes = h("ol", { class: "scenes" });
  const language = () => basics.language.value.trim() || fallbackLanguage;
  const wordsPerMinute = () => Number(basics.words_per_minute.value) || defaultWordsPerMinute(language());
  const cards = () => [...scenes.children];

  const readScenes = () =>
    cards().map((card, i) => ({
      n: i + 1,
      duration_s: Number(card.inputs.duration_s.value) || 0,
      narration: card.inputs.narration.value,
      visual: card.inputs.visual.value,
      shot: card.inputs.shot.value,
      on_screen_text: card.inputs.on_screen_text.value,
      ...card.source,
    }));

  const recheck = () => {
    const target = Number(basics.target_duration_s.value) || 0;
    const result = timingCheck(readScenes(), target, wordsPerMinute());
    wordsHint.textContent = `Narration is read at ${wordsPerMinute()} words per minute${basics.words_per_minute.value ? "" : " (the language's usual)"}.`;
    meter.max = Math.max(result.high * 1.25, result.total, 1);
    meter.low = result.low;
    meter.high = result.high;
    meter.optimum = target;
    meter.value = result.total;
    summary.textContent = result.summary;
    panel.classList.toggle("fits", result.fits);
    panel.classList.toggle("off", !result.fits);
    cards().forEach((card, i) => {
      const check = result.perScene[i];
      card.heading.textContent = `Scene ${i + 1}`;
      card.removeButton?.setAttribute("aria-label", `Remove scene ${i + 1}`);
      card.check.textContent = `${check.words} words; ${card.inputs.duration_s.value || 0} s hold at most ${check.most}.`;
      card.check.classList.toggle("error", !check.fits);
      card.classList.toggle("scene-off", !check.fits);
    });
    return result;
  };

  const remove = (card) => {
    if (cards().length === 1) return; // a scenario has at least one scene
    const next = card.nextElementSibling ?? card.previousElementSibling;
    card.remove();
    next?.querySelector("input, textarea")?.focus();
    recheck();
  };
  for (const scene of scenario.scenes.length ? scenario.scenes : [emptyScene(scenario.target_duration_s)]) {
    scenes.append(sceneCard(scene, readOnly, remove));
  }
  const add = h("button", { type: "button" }, "Add a scene");
  add.addEventListener("click", () => {
    const card = sceneCard(emptyScene(5), readOnly, remove);
    scenes.append(card);
    recheck();
    card.inputs.duration_s.focus();
  });

  const element = h(
    "div",
    { class: "scenario-editor" },
    h(
      "fieldset",
      {},
      h("legend", {}, "The video"),
      field("Title", basics.title),
      field("Logline", basics.logline, "The scenario in one sentence."),
      h(
        "div",
        { class: "grid-fields" },
        field("Platform", basics.platform),
        field("Aspect", basics.aspect),
        field("Language", basics.language, "Two letters like en or ru."),
        field("Target duration (seconds)", basics.target_duration_s),
        field("Words per minute", basics.words_per_minute, "Empty: the language's usual."),
      ),
      wordsHint,
      field("Hook", basics.hook, "The first line: why keep watching."),
      field("Call to action", basics.call_to_action),
    ),
    panel,
    h("h2", {}, "Scenes"),
    scenes,
    readOnly ? null : add,
  );
  element.addEventListener("input", recheck);
  recheck();

  return {
    element,
    recheck,
    content() {
      const body = {
        title: basics.title.value.trim(),
        logline: basics.logline.value.trim(),
        platform: basics.platform.value,
        aspect: basics.aspect.value || null,
        target_duration_s: Math.round(Number(basics.target_duration_s.value)),
        words_per_minute: basics.words_per_minute.value ? Math.round(Number(basics.words_per_minute.value)) : null,
        hook: basics.hook.value.trim(),
        call_to_action: basics.call_to_action.value.trim(),
        scenes: readScenes(),
      };
      if (basics.language.value.trim()) body.language = basics.language.value.trim();
      return body;
    },
    showProblems(problems = []) {
      for (const card of cards()) card.problem.hidden = true;
      for (const problem of problems) {
        const card = problem.scene ? cards()[problem.scene - 1] : null;
        if (card) {
          card.problem.textContent = problem.detail;
          card.problem.hidden = false;
        }
      }
    },
  };
}

/** A scenario to read (a shared link): the facts, then each scene. */
export function scenarioView(scenario) {
  return h(
    "div",
    { class: "scenario-view" },
    scenario.logline ? h("p", { class: "logline" }, scenario.logline) : null,
    h(
      "dl",
      { class: "facts-list" },
      h("dt", {}, "Platform"),
      h("dd", {}, `${platformWords(scenario.platform)}, ${scenario.aspect}`),
      h("dt", {}, "Duration"),
      h("dd", {}, formatDuration(scenario.target_duration_s)),
      h("dt", {}, "Language"),
      h("dd", {}, `${scenario.language}, ${scenario.words_per_minute} words per minute`),
    ),
    scenario.hook ? h("p", {}, h("strong", {}, "Hook: "), scenario.hook) : null,
    h(
      "ol",
      { class: "scenes" },
      scenario.scenes.map((scene) =>
        h(
          "li",
          { class: "scene card" },
          h("h3", {}, `Scene ${scene.n} · ${seconds(scene.duration_s)}${scene.shot ? ` · ${scene.shot}` : ""}`),
          scene.narration ? h("p", {}, scene.narration) : null,
          scene.visual ? h("p", { class: "muted" }, "Seen: ", scene.visual) : null,
          scene.on_screen_text ? h("p", { class: "muted" }, "On screen: ", scene.on_screen_text) : null,
        ),
      ),
    ),
    scenario.call_to_action ? h("p", {}, h("strong", {}, "Call to action: "), scenario.call_to_action) : null,
  );
}
