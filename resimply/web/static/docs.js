// /docs: render /openapi.json with the vendored Swagger UI. Paths are relative,
// so the page also works behind a proxy that serves the API under a prefix.
window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#api",
  deepLinking: true,
  // Swagger UI would otherwise send the document to validator.swagger.io.
  validatorUrl: null,
  tryItOutEnabled: false,
  persistAuthorization: false,
  defaultModelsExpandDepth: 1,
});
