# Builds the files /dashboard serves. Two modes:
#
#   -DMODE=npm: installs chart.js exactly as web/dashboard/package-lock.json
#   pins it (`npm ci`, install scripts off) in WORK, copies its UMD build into
#   OUT and touches STAMP. If npm fails (no network, say) it warns and leaves
#   STAMP alone, so the build succeeds, /dashboard answers 503, and the next
#   build tries again.
#     cmake -DMODE=npm -DNPM=npm -DSRC=web/dashboard -DWORK=... -DOUT=... -DSTAMP=... -P dashboard_assets.cmake
#
#   -DMODE=page: copies the page's own files (index.html, app.js, style.css)
#   from SRC into OUT.
#     cmake -DMODE=page -DSRC=web/dashboard -DOUT=... -P dashboard_assets.cmake
if(MODE STREQUAL "page")
  file(MAKE_DIRECTORY "${OUT}")
  foreach(f index.html app.js style.css)
    file(COPY_FILE "${SRC}/${f}" "${OUT}/${f}" ONLY_IF_DIFFERENT)
  endforeach()
  return()
endif()

file(MAKE_DIRECTORY "${WORK}")
file(COPY "${SRC}/package.json" "${SRC}/package-lock.json" DESTINATION "${WORK}")
execute_process(
  COMMAND "${NPM}" ci --no-audit --no-fund --ignore-scripts
  WORKING_DIRECTORY "${WORK}"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(WARNING "errata: `npm ci` in ${WORK} failed (${rc}); /dashboard will answer 503 "
                  "until a build installs chart.js")
  return()
endif()
file(MAKE_DIRECTORY "${OUT}")
file(COPY_FILE "${WORK}/node_modules/chart.js/dist/chart.umd.min.js" "${OUT}/chart.umd.min.js")
file(COPY_FILE "${WORK}/node_modules/chart.js/LICENSE.md" "${OUT}/chart.js-LICENSE.md")
file(TOUCH "${STAMP}")
