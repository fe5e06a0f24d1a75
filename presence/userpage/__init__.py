"""The user page: a signed-in person sees their own presence live and presses the admin's preset buttons.

Everything that decides *whose* presence is shown or changed lives in `services`: the views and the
websocket consumer only ever pass the signed-in Django user in, never a user named by the browser.
"""
