// One scenario: its scenes in the editor with the live timing check, saved as a new version
// (PUT with base_version: someone else's newer save is a 409, not lost work); share links
// and people; while the language model writes it, its progress. Also /scenarios/new.

import { ApiError, api, currentUser, idempotencyKey } from "../api.js";
import { navigate } from "../router.js";
import { scenarioEditor } from "../scenario-form.js";
import {
  dangerButton,
  field,
  formatDate,
  h,
  messageArea,
  progressBar,
  secretField,
  setTitle,
  statusBadge,
} from "../ui.js";

const POLL_MS = 2000;

function blankScenario() {
  return {
    title: "",
    logline: "",
    platform: "youtube_shorts",
    aspect: null,
    language: null,
    target_duration_s: 60,
    words_per_minute: null,
    hook: "",
    call_to_action: "",
    scenes: [],
  };
}

/** What a refused save says: the API's reason, and for a 409 what to do about it. */
function saveRefusal(error) {
  if (error.status === 409) {
    return `Not saved: ${error.message}. Someone saved a newer version while you were editing; reload the page to see it (copy your changes first).`;
  }
  return `Not saved: ${error.message}`;
}

function editForm(scenario, { isNew, onSaved }) {
  const language = currentUser()?.default_language || "en";
  const readOnly = !isNew && scenario.role === "viewer";
  const editor = scenarioEditor(scenario, { readOnly, fallbackLanguage: language });
  const message = messageArea();
  const submit = h("button", { type: "submit", class: "primary" }, isNew ? "Create scenario" : "Save as a new version");
  const form = h("form", { class: "scenario-form" }, editor.element, message, readOnly ? null : submit);
  let baseVersion = scenario.version;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.clear();
    editor.showProblems();
    submit.disabled = true;
    try {
      const body = editor.content();
      const saved = isNew
        ? await api("/v1/scenarios", { method: "POST", json: body, headers: { "Idempotency-Key": idempotencyKey() } })
        : await api(`/v1/scenarios/${encodeURIComponent(scenario.id)}`, {
            method: "PUT",
            json: { ...body, base_version: baseVersion },
          });
      baseVersion = saved.version;
      await onSaved(saved, message);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status >= 500) throw error;
      message.show(saveRefusal(error));
      editor.showProblems(error.problem.problems);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function shareRow(scenarioId, share, reload) {
  const who = share.kind === "link" ? "Anyone with the link" : share.email;
  const state = share.revoked_at
    ? `revoked ${formatDate(share.revoked_at)}`
    : share.expires_at
      ? `until ${formatDate(share.expires_at)}`
      : "until you revoke it";
  const revoke = share.revoked_at
    ? null
    : dangerButton("Revoke", "Press again to revoke", `Revoke the share with ${who}`, async () => {
        await api(`/v1/scenarios/${encodeURIComponent(scenarioId)}/shares/${encodeURIComponent(share.id)}`, {
          method: "DELETE",
        });
        await reload();
      });
  return h(
    "tr",
    {},
    h("th", { scope: "row" }, who),
    h("td", {}, share.role === "editor" ? "may edit" : "may read"),
    h("td", {}, formatDate(share.created_at)),
    h("td", {}, state),
    h("td", {}, revoke),
  );
}

function sharing(scenario) {
  const base = `/v1/scenarios/${encodeURIComponent(scenario.id)}`;
  const fresh = h("div", {});
  const list = h("div", {});
  const reload = async () => {
    const shares = (await api(`${base}/shares?limit=200`)).items;
    list.replaceChildren(
      shares.length
        ? h(
            "div",
            { class: "table-scroll" },
            h(
              "table",
              {},
              h("caption", { class: "visually-hidden" }, "Who can open this scenario"),
              h("thead", {}, h("tr", {}, ["Who", "May", "Since", "Open", ""].map((t) => h("th", { scope: "col" }, t)))),
              h("tbody", {}, shares.map((share) => shareRow(scenario.id, share, reload))),
            ),
          )
        : h("p", { class: "empty" }, "Not shared. Make a read-only link, or give a kadr user access by email."),
    );
  };
  const linkMessage = messageArea();
  const makeLink = h("button", { type: "button" }, "Create a read-only link");
  makeLink.addEventListener("click", async () => {
    linkMessage.clear();
    makeLink.disabled = true;
    try {
      const share = await api(`${base}/share`, { method: "POST", json: {} });
      const url = `${location.origin}/shared/scenarios/${encodeURIComponent(share.token)}`;
      fresh.replaceChildren(
        h(
          "div",
          { class: "secret-box card" },
          h("p", { role: "status" }, "Copy the link now: kadr keeps only a fingerprint of it and cannot show it again."),
          secretField("Share link", url),
          h("p", { class: "hint" }, "Anyone with it can read the scenario, without an account, until you revoke it."),
        ),
      );
      fresh.querySelector("input").focus();
      await reload();
    } catch (error) {
      if (!(error instanceof ApiError) || error.status >= 500) throw error;
      linkMessage.show(error.message);
    } finally {
      makeLink.disabled = false;
    }
  });
  const email = h("input", { type: "email", required: true, autocomplete: "off" });
  const role = h("select", {}, h("option", { value: "viewer" }, "may read"), h("option", { value: "editor" }, "may edit"));
  const personMessage = messageArea();
  const person = h(
    "form",
    { class: "row share-person" },
    field("Their email", email),
    field("They", role),
    h("button", { type: "submit" }, "Share"),
  );
  person.addEventListener("submit", async (event) => {
    event.preventDefault();
    personMessage.clear();
    try {
      await api(`${base}/share`, { method: "POST", json: { email: email.value.trim(), role: role.value } });
      personMessage.show(`Shared with ${email.value.trim()}.`, "success");
      person.reset();
      await reload();
    } catch (error) {
      if (!(error instanceof ApiError) || error.status >= 500) throw error;
      personMessage.show(error.message);
    }
  });
  reload();
  return h(
    "section",
    { class: "card", "aria-labelledby": "share-heading" },
    h("h2", { id: "share-heading" }, "Share"),
    h("div", { class: "actions" }, makeLink),
    linkMessage,
    fresh,
    person,
    personMessage,
    h("h3", {}, "Who can open it"),
    list,
  );
}

function waiting(main, scenario, signal) {
  const bar = progressBar("Writing progress", scenario.progress * 100);
  main.append(
    h("h1", {}, "Writing the scenario…"),
    h("p", { class: "run-status" }, statusBadge(scenario.status), " The language model is writing it; this page updates by itself."),
    bar,
    h("p", {}, h("a", { href: "/scenarios" }, "Back to your scenarios")),
  );
  const poll = async () => {
    if (signal.aborted) return;
    const now = await api(`/v1/scenarios/${encodeURIComponent(scenario.id)}`, { signal });
    bar.set(now.progress * 100);
    if (now.status === "queued" || now.status === "generating") {
      setTimeout(poll, POLL_MS);
    } else {
      await navigate(location.pathname, { replace: true });
    }
  };
  setTimeout(poll, POLL_MS);
}

function deleteButton(scenario) {
  return dangerButton("Delete scenario", "Press again to delete it", `Delete the scenario ${scenario.title}`, async () => {
    await api(`/v1/scenarios/${encodeURIComponent(scenario.id)}`, { method: "DELETE" });
    await navigate("/scenarios");
  });
}

export async function render(main, { params, query, signal }) {
  if (!params.id) {
    setTitle("New scenario");
    const form = editForm(blankScenario(), {
      isNew: true,
      onSaved: (saved) => navigate(`/scenarios/${encodeURIComponent(saved.id)}?created=1`, { replace: true }),
    });
    main.append(
      h("p", { class: "crumbs" }, h("a", { href: "/scenarios" }, "Scenarios")),
      h("h1", {}, "New scenario"),
      form,
    );
    return;
  }
  const scenario = await api(`/v1/scenarios/${encodeURIComponent(params.id)}`, { signal });
  setTitle(scenario.title || "Scenario");
  if (scenario.status === "queued" || scenario.status === "generating") {
    waiting(main, scenario, signal);
    return;
  }
  const crumbs = h("p", { class: "crumbs" }, h("a", { href: "/scenarios" }, "Scenarios"));
  if (scenario.status === "failed") {
    main.append(
      crumbs,
      h("h1", {}, scenario.title || "A scenario that was not written"),
      h("p", { class: "error", role: "alert" }, `The language model could not write it: ${scenario.error}`),
      h("p", {}, "Try again with a shorter brief or another duration, or write it by hand."),
      h("div", { class: "actions" }, h("a", { href: "/scenarios", class: "button" }, "Back to your scenarios"), deleteButton(scenario)),
    );
    return;
  }
  const facts = h("p", { class: "muted" });
  const describe = (current) => {
    const whose = current.role === "owner" ? "" : ` · shared with you: you ${current.role === "editor" ? "may edit it" : "may read it"}`;
    facts.textContent = `Version ${current.version} · changed ${formatDate(current.updated_at)}${current.source_run_id ? ` · a re-cut of run ${current.source_run_id}` : ""}${whose}`;
  };
  describe(scenario);
  const form = editForm(scenario, {
    isNew: false,
    onSaved: (saved, message) => {
      describe(saved);
      message.show(`Saved as version ${saved.version}.`, "success");
    },
  });
  main.append(crumbs, h("h1", {}, scenario.title || "Untitled scenario"), facts, form);
  if (query.has("created")) {
    facts.after(h("p", { class: "notice", role: "status" }, "Created. Every save from now on is a new version."));
  }
  if (scenario.role === "owner") main.append(sharing(scenario), h("div", { class: "actions" }, deleteButton(scenario)));
}
