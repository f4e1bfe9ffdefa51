# Installs an npm package exactly as SRC/package-lock.json pins it (`npm ci`,
# install scripts off) in WORK, copies the listed files into OUT and touches
# STAMP. If npm fails (no network, say) it warns and leaves STAMP alone, so
# the build succeeds, the route (FOR) answers 503, and the next build tries
# again. Used for swagger-ui (/docs) and Chart.js (/dashboard).
#
#   cmake -DNPM=npm -DSRC=web/docs -DWORK=... -DOUT=... -DSTAMP=... -DFOR=/docs
#         -DFILES=swagger-ui-dist/swagger-ui.css>swagger-ui.css,... -P npm_assets.cmake
#
# FILES: comma-separated `PATH>NAME` pairs, PATH under node_modules, NAME in OUT.
file(MAKE_DIRECTORY "${WORK}")
file(COPY "${SRC}/package.json" "${SRC}/package-lock.json" DESTINATION "${WORK}")
execute_process(
  COMMAND "${NPM}" ci --no-audit --no-fund --ignore-scripts
  WORKING_DIRECTORY "${WORK}"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(WARNING "errata: `npm ci` in ${WORK} failed (${rc}); ${FOR} will answer 503 "
                  "until a build installs its assets")
  return()
endif()
file(MAKE_DIRECTORY "${OUT}")
string(REPLACE "," ";" pairs "${FILES}")
foreach(pair IN LISTS pairs)
  string(REPLACE ">" ";" parts "${pair}")
  list(GET parts 0 from)
  list(GET parts 1 to)
  file(COPY_FILE "${WORK}/node_modules/${from}" "${OUT}/${to}")
endforeach()
file(TOUCH "${STAMP}")
