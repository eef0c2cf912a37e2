"""Who may call what: the two ways the HTTP API is protected, and the caller it records.

* `functionKey` (default): the Functions host checks a function key; a caller with a key
  may do everything, and is recorded as "function key".
* `entra`: App Service Authentication (Easy Auth) validates the caller's Microsoft Entra
  token before the request reaches the host, and hands the app the caller's claims in
  `X-MS-CLIENT-PRINCIPAL`. The app then checks the app role each route declares
  (`roles`), refusing without a principal (401) or without the role (403).

The mode is the `API_AUTH_MODE` app setting, read once at import (`mode`), because it
also decides the routes' auth level: with Easy Auth in front, function keys would be a
second credential every caller must hold, so entra mode publishes the routes anonymous
and relies on Easy Auth plus the role check here. Easy Auth strips client-sent principal
headers only while it is on: in entra mode the app refuses to serve (503) when App
Service says authentication is off (`WEBSITE_AUTH_ENABLED`), since any client could
then send its own principal.

Nothing here imports an Azure SDK: the blueprints use it while `function_app` is imported.
"""
