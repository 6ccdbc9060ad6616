"use strict";
// Render the OpenAPI document as a list of endpoints with their request and response schemas (no CDN).
(async () => {
  const box = document.getElementById("ops");
  const spec = await (await fetch("/openapi.json")).json();
  const schemas = (spec.components || {}).schemas || {};
  const resolve = (s, depth = 0) => {
    if (!s || depth > 4) return s;
    if (s.$ref) return resolve(schemas[s.$ref.split("/").pop()], depth + 1);
    const out = Array.isArray(s) ? [] : {};
    for (const [k, v] of Object.entries(s)) out[k] = typeof v === "object" && v !== null ? resolve(v, depth + 1) : v;
    return out;
  };
  box.textContent = "";
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const div = document.createElement("div");
      div.className = "op";
      const h = document.createElement("h3");
      const m = document.createElement("span");
      m.className = "method";
      m.textContent = method.toUpperCase() + " ";
      h.append(m, path);
      const p = document.createElement("p");
      p.textContent = op.summary || "";
      div.append(h, p);
      const body = op.requestBody && op.requestBody.content["application/json"];
      if (body) {
        const pre = document.createElement("pre");
        pre.textContent = "request body:\n" + JSON.stringify(resolve(body.schema), null, 1);
        div.append(pre);
      }
      box.append(div);
    }
  }
})();
