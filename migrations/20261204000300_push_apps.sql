-- Push apps: an app made by `git push` to Slipway (or created without a repo_url) has
-- no remote repository; its code lives in Slipway's own repository storage
-- (SLIPWAY_REPO_DIR on the API), and its deployments fetch from the API.
ALTER TABLE apps ALTER COLUMN repo_url DROP NOT NULL;
