// A scenario a read-only link opens (/shared/scenarios/{token}): no account needed; a revoked,
// expired or mistyped link says so.

import { ApiError, api } from "../api.js";
import { scenarioView } from "../scenario-form.js";
import { formatDate, h, setTitle } from "../ui.js";

export async function render(main, { params, signal }) {
  let scenario;
  try {
    scenario = await api(`/v1/shared/scenarios/${encodeURIComponent(params.token)}`, { auth: false, signal });
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    setTitle("Link not valid");
    main.append(
      h("h1", {}, "This link opens nothing"),
      h("p", {}, "Its owner revoked it, it expired, or it was copied only in part. Ask whoever sent it for a new one."),
    );
    return;
  }
  setTitle(scenario.title);
  main.append(
    h("p", { class: "crumbs" }, "A scenario shared with you"),
    h("h1", {}, scenario.title),
    h("p", { class: "muted" }, `Version ${scenario.version} · changed ${formatDate(scenario.updated_at)}`),
    scenarioView(scenario),
  );
}
