-- The front end's own value for an OAuth flow (express-authlib/client stores a random one in the
-- tab that began the flow): handed back in the redirect's fragment, so the page that receives
-- tokens can tell a flow it began from tokens another site sent it to.
ALTER TABLE oauth_states ADD COLUMN IF NOT EXISTS client_state text;
