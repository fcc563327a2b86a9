import type { OpenApiDocument } from './document.js';
import type { Routes } from '../types.js';

/** How long clients and shared caches may keep the document: it changes only with a deploy. */
const CACHE_CONTROL = 'public, max-age=300';

/** `GET /openapi.json`: public; serialized once, since the document is fixed for the router's life. */
export function mountOpenApiRoute(router: Routes, document: OpenApiDocument): void {
  const payload = JSON.stringify(document);
  router.get('/openapi.json', (_req, res) => {
    res.statusCode = 200;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(payload));
    res.setHeader('Cache-Control', CACHE_CONTROL);
    res.end(payload);
  });
}
