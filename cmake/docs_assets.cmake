# Builds the files /docs serves: installs swagger-ui-dist exactly as
# web/docs/package-lock.json pins it (`npm ci`, install scripts off) in WORK,
# then copies swagger-ui's CSS and bundle into OUT and touches STAMP.
# If npm fails (no network, say) it warns and leaves STAMP alone, so the build
# succeeds, /docs answers 503, and the next build tries again.
# Usage: cmake -DNPM=npm -DSRC=web/docs -DWORK=... -DOUT=... -DSTAMP=... -P docs_assets.cmake
file(MAKE_DIRECTORY "${WORK}")
file(COPY "${SRC}/package.json" "${SRC}/package-lock.json" DESTINATION "${WORK}")
execute_process(
  COMMAND "${NPM}" ci --no-audit --no-fund --ignore-scripts
  WORKING_DIRECTORY "${WORK}"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(WARNING "errata: `npm ci` in ${WORK} failed (${rc}); /docs will answer 503 "
                  "until a build installs swagger-ui-dist")
  return()
endif()
file(MAKE_DIRECTORY "${OUT}")
foreach(f swagger-ui.css swagger-ui-bundle.js)
  file(COPY_FILE "${WORK}/node_modules/swagger-ui-dist/${f}" "${OUT}/${f}")
endforeach()
file(TOUCH "${STAMP}")
