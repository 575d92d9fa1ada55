from django.core.wsgi import get_wsgi_application

from cdt_portal.dotenv import use_settings

# .env is read before the settings module is chosen (the environment still wins); gunicorn
# serves the production settings unless told otherwise.
use_settings("cdt_portal.settings.production")

application = get_wsgi_application()
