// App Service Authentication (Easy Auth) with Microsoft Entra ID in front of the function app.
// It validates the caller's token before the Functions host sees the request, replaces any
// principal headers the client sent with its own (X-MS-CLIENT-PRINCIPAL), and answers 401
// without a valid token. The app checks the app roles (docs/access.md).

@description('Name of the existing function app.')
param appName string

@description('Application (client) id of the API\'s Entra app registration.')
param clientId string

@description('OpenID issuer of the tenant, https://login.microsoftonline.com/<tenant>/v2.0.')
param issuer string

@description('Token audiences to accept.')
param allowedAudiences array

@description('App setting Easy Auth reads its client credential from for browser sign-in. Empty: none (tokens are validated only).')
param clientSecretSettingName string = ''

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: appName
}

resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      // One action for every path: API callers need a 401, not a redirect to a sign-in page.
      unauthenticatedClientAction: 'Return401'
      // The anonymous self-check (names only, nothing sensitive).
      excludedPaths: [
        '/api/health'
      ]
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: clientId
          openIdIssuer: issuer
          // No client secret: validating tokens needs none.
          clientSecretSettingName: empty(clientSecretSettingName) ? null : clientSecretSettingName
        }
        validation: {
          allowedAudiences: allowedAudiences
        }
      }
    }
  }
}
