"""The myApps user app and admin app: pages that run inside the innovaphone myApps client.

Each app is an App object on the PBX (Name, password, URL `<PUBLIC_URL>/myapps/user` or `…/admin`).
myApps loads `<URL>.htm` in a frame; the page asks our service for a challenge over its websocket
(`<URL>` with http→ws), asks myApps for a login signed by the PBX with the App object's password
(`getLogin` → `Login`), and hands it back (`AppLogin`). We check the digest and learn which PBX user
opened the app, without a second password (reference: innovaphone-myapps-apps.md, docs/myapps.md).

- `config`: the two App objects and the framing origins, from settings.
- `verify`: the digest check, pure functions.
- `tokens`: challenges, used-login marks and admin sign-in tickets in the cache (single use).
- `signin`: one AppLogin from message to PBX user, with a refusal for people when it fails.
- `consumers`: the two app websockets; `userapp`: what the user app shows and presses.
- `accounts`: the Django admin account a PBX user is signed into by the admin app.
- `views`, `preview`, `middleware`, `frame_urls`, `checks`: pages, the preview host, framing, checks.
"""
