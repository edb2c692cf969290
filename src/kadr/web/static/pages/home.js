// `/`: the videos for a signed-in user, the sign-in page for anyone else.

import { refreshSession, signedIn } from "../api.js";
import { navigate } from "../router.js";

export async function render() {
  const known = signedIn() || (await refreshSession());
  await navigate(known ? "/videos" : "/sign-in", { replace: true });
}
