// Starts Swagger UI on the page /schema serves. A file, not an inline script, so a page
// Content-Security-Policy of script-src 'self' admits it. No validator badge: it would fetch
// from validator.swagger.io, and the page must work offline.
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.url,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
  });
});
