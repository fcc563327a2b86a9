// Context `client`: front-end code with a client of the library, `client`, made for the API's origin.
// A block after `<!-- check: fragment client -->` is type-checked in place of the fragment comment
// below, at the top level of an ES module (so it may import more, and await).
import { createAuthClient } from 'express-authlib/client';

const client = createAuthClient({ baseUrl: 'https://api.example.com' });

/* fragment */

export { client };
