// Starts Swagger UI on /docs (no inline script: the page's CSP allows only 'self').
/* global SwaggerUIBundle */
const el = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: el.dataset.openapiUrl,
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null, // the online validator would call out of the site
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
