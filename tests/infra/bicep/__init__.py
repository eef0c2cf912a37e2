"""A small reader for the Bicep this repository writes, so tests can check the template.

No Bicep compiler can be installed on the machines this project runs on, which reach only
PyPI, npm and Debian: the Bicep CLI is a native binary that `az bicep install` fetches from
GitHub, and the registry packages that wrap it (bicep-node on npm, the Bicep JSON-RPC
client on PyPI) download it at run time too. So the tests do two things instead:

- parse every file with pycep-parser (a third-party Lark grammar of Bicep), an
  independent syntax check;
- parse it again here into a precise tree and *evaluate* it for a given set of
  parameters, the way ARM would, with deploy-time values (resource ids, keys, principal
  ids) left symbolic. Tests then assert on the evaluated resources: which roles go to
  which scope, which app settings each hosting plan gets, whether shared keys are on.

This covers the subset of Bicep the templates use; anything else is a parse error, which
is the point: a construct this reader does not know is one no test has looked at.
"""

from tests.infra.bicep.evaluate import Deferred, Deployment, Evaluator, Resource, ResourceRef
from tests.infra.bicep.syntax import BicepSyntaxError, Decl, Node, parse_file, refs, tokenize

__all__ = ["BicepSyntaxError", "Decl", "Deferred", "Deployment", "Evaluator", "Node", "Resource", "ResourceRef",
           "parse_file", "refs", "tokenize"]
