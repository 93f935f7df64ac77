// Completion.cpp - the completion script, one bash function; zsh runs it through bashcompinit.
#include "server/cli/Completion.hpp"

namespace tether::cli {

namespace {

constexpr const char* kBash =
    R"BASH(# tether completion: source <(tether completion bash), or add that line to ~/.bashrc.
_tether_value_flags=" -n --namespace --context --kubeconfig --expose --strategy --type --image --output --log-level --log-file --stale-after --input-style "

# The value given to flag $1 among the words typed so far.
_tether_flag_value() {
  local i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "${COMP_WORDS[i]}" in
      "$1") echo "${COMP_WORDS[i + 1]}"; return ;;
      "$1="*) echo "${COMP_WORDS[i]#*=}"; return ;;
    esac
  done
}

# Names from the cluster (one per line) that start with what is typed, taken as they are: never through
# `compgen -W`, which would expand them (a context named $(...) must not run anything on Tab).
_tether_names() {
  local name
  while IFS= read -r name; do
    [[ "$name" == "$cur"* ]] && COMPREPLY+=("$name")
  done < <("$tether" __complete "$@" "${cluster[@]}" 2>/dev/null)
}

_tether() {
  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD - 1]}" tether="${COMP_WORDS[0]}"
  local commands="serve contexts namespaces services sessions exchange connect preview forward clean recover completion"
  local cmd="" positionals=0 i word
  COMPREPLY=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="${COMP_WORDS[i]}"
    if [[ "$word" == "--" ]]; then return; fi  # what follows is the command run with the session
    if [[ "$_tether_value_flags" == *" $word "* ]]; then ((i++)); continue; fi
    if [[ "$word" == -* ]]; then continue; fi
    if [[ -z "$cmd" ]]; then cmd="$word"; else ((positionals++)); fi
  done
  if [[ -z "$cmd" ]]; then
    COMPREPLY=($(compgen -W "$commands --help --version" -- "$cur"))
    return
  fi
  local cluster=() value
  value=$(_tether_flag_value --kubeconfig); [[ -n "$value" ]] && cluster+=(--kubeconfig "$value")
  value=$(_tether_flag_value --context); [[ -n "$value" ]] && cluster+=(--context "$value")
  value=$(_tether_flag_value -n); [[ -z "$value" ]] && value=$(_tether_flag_value --namespace)
  [[ -n "$value" ]] && cluster+=(-n "$value")
  case "$prev" in
    -n|--namespace) _tether_names namespaces; return ;;
    --context) _tether_names contexts; return ;;
    --strategy) COMPREPLY=($(compgen -W "selector scale" -- "$cur")); return ;;
    --type) COMPREPLY=($(compgen -W "ClusterIP NodePort LoadBalancer" -- "$cur")); return ;;
    --output) COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
    --input-style) COMPREPLY=($(compgen -W "standard delimited" -- "$cur")); return ;;
    --log-level) COMPREPLY=($(compgen -W "trace debug info warn error off" -- "$cur")); return ;;
    --kubeconfig|--log-file) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --expose|--image|--stale-after) return ;;
  esac
  local cluster_flags="--kubeconfig --context -n --namespace --log-level --log-file --help"
  local flags="$cluster_flags"
  case "$cmd" in
    serve) flags="--stdio --input-style --pretty --log-level --log-file --help" ;;
    contexts) flags="--kubeconfig --context --log-level --log-file --help" ;;
    exchange) flags="$cluster_flags --expose --strategy --proxy-protocol --image --output" ;;
    connect|forward) flags="$cluster_flags --image --output" ;;
    preview) flags="$cluster_flags --expose --type --image --output" ;;
    clean) flags="$cluster_flags -A --all-namespaces --dry-run --stale-after --output" ;;
    recover) flags="$cluster_flags --output" ;;
    completion|sessions) flags="--help" ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    return
  fi
  case "$cmd" in
    exchange|forward|recover)
      if ((positionals == 0)); then
        _tether_names services
      fi ;;
    completion)
      if ((positionals == 0)); then COMPREPLY=($(compgen -W "bash zsh" -- "$cur")); fi ;;
  esac
}
complete -F _tether tether
)BASH";

}  // namespace

std::string completionScript(const std::string& shell) {
  if (shell == "zsh") {
    return std::string(
               "# tether completion for zsh: source <(tether completion zsh)\n"
               "autoload -U +X bashcompinit && bashcompinit\n") +
           kBash;
  }
  return kBash;
}

}  // namespace tether::cli
