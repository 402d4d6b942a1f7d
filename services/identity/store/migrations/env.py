from services.identity.store.models import Base
from services.platform.db import run_env

run_env(Base.metadata)
