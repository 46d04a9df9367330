// Starts ReDoc on /redoc (an ES module, no inline script). The page has no <redoc> tag,
// so ReDoc's own start-up does nothing and this one runs with telemetry off: ReDoc 3
// would otherwise report to Redocly's servers, and a site without internet has none.
import { init } from "../vendor/redoc/redoc.standalone.js";

const box = document.getElementById("redoc-root");
init(box.dataset.openapiUrl, { disableTelemetry: true }, box);
