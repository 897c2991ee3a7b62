"""What tasks.py needs to run the Django site through Docker Compose v2. One concern a module:

settings  reads and checks .env (host inputs)    engine   finds docker and Compose v2
compose   Compose argument lists                 runner   runs them, echoed once; looks things up
ports     the host ports, checked up front       health   waits until the site answers, or says why not
django    manage.py arguments                    cli      optional positionals, words a user typed
backup    the db.* backups                       prompts  the questions asked before data goes
"""
