# A verifier in another language, from Debian's packages (python3-jwt): PyJWKClient fetches the key
# set from the URL, jwt.decode checks each token (one JSON array on stdin). Prints one JSON array:
# {"ok": true, "sub", "alg", "kid"} or {"ok": false, "error"}.
# Usage: python3 pyjwt-verifier.py <jwks-url> <issuer> <audience>
import json
import sys

import jwt

url, issuer, audience = sys.argv[1:4]
client = jwt.PyJWKClient(url)
results = []
for token in json.load(sys.stdin):
    try:
        key = client.get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=["EdDSA", "ES256"], issuer=issuer, audience=audience)
        header = jwt.get_unverified_header(token)
        results.append({"ok": True, "sub": claims["sub"], "alg": header["alg"], "kid": header["kid"]})
    except Exception as err:  # every refusal is an answer here, not a crash
        results.append({"ok": False, "error": type(err).__name__})
print(json.dumps(results))
