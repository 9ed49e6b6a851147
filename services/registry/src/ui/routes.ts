// GET /ui: the registry's small web page for people (runs, a run's waterfall, an endpoint's model
// history, dead letters). Self-contained: one HTML page, one script, one stylesheet, served from
// memory; no build step and nothing fetched from elsewhere. The page itself is public; every API
// call it makes carries the key the person typed (Bearer), so it shows only what that key may see.
import type { Request, Response, Router } from "express";
import { APP_CSS, APP_JS, PAGE_HTML } from "./assets.js";

// The page loads only its own script and stylesheet and talks only to this origin.
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** Registers `GET /ui` (and `/ui/`), `GET /ui/app.js` and `GET /ui/app.css`. */
export function registerUiRoutes(router: Router): void {
  const send = (body: string, type: string) => (_req: Request, res: Response) => {
    res
      .status(200)
      .set({
        "content-type": type,
        "cache-control": "no-cache",
        "content-security-policy": CONTENT_SECURITY_POLICY,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
      })
      .send(body);
  };
  router.get(["/ui", "/ui/"], send(PAGE_HTML, "text/html; charset=utf-8"));
  router.get("/ui/app.js", send(APP_JS, "text/javascript; charset=utf-8"));
  router.get("/ui/app.css", send(APP_CSS, "text/css; charset=utf-8"));
}
