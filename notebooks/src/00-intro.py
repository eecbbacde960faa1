# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: lang,tags,-all
#     main_language: python
#     notebook_metadata_filter: -all
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown] lang="en"
# # Introduction - pods come and go, Services stay
#
# **You will learn to**
# - tell which cluster these labs run on, and switch to another one;
# - see that pods are ephemeral: delete one and watch its replacement get a new name and a new IP;
# - select pods by label, the way a Service finds its pods.
#
# How the labs work: each notebook runs real `kubectl` commands (cells starting with `!kubectl`) next
# to a few helpers from the `labs` package (setting a lab up, live tables, requests from a test
# pod, the check). Run cells top to bottom with Shift+Enter; a notebook run again starts from
# scratch.

# %% [markdown] lang="ko"
# # 인트로 - 파드는 사라져도 서비스는 남는다
#
# **이 노트북에서 배우는 것**
# - 실습이 어떤 클러스터에서 실행되는지 확인하고 다른 클러스터로 바꾸기
# - 파드가 일시적(Ephemeral)이라는 것 확인하기: 파드 하나를 삭제하고, 대신 생긴 파드가 새 이름과
#   새 IP를 받는 것 보기
# - 서비스가 파드를 찾는 방식 그대로 라벨로 파드 선택하기
#
# 실습 진행 방식: 각 노트북은 실제 `kubectl` 명령(`!kubectl`로 시작하는 셀)과 `labs` 패키지의
# 도우미(실습 준비, 실시간 표, 테스트 파드에서 요청 보내기, 채점)를 함께 사용한다. 셀은 위에서부터
# Shift+Enter로 실행하며, 노트북을 다시 실행하면 처음 상태부터 시작한다.

# %% [markdown] lang="en"
# ## 1. Which cluster?
#
# | `LAB_CLUSTER` | what it is | how it starts |
# |---|---|---|
# | `kind` | a real Kubernetes cluster in Docker: 1 control-plane and 2 worker nodes | `make lab` when Docker runs |
# | `embedded` | a Kubernetes-compatible API server shipped with the labs, no Docker needed | `make lab` without Docker |
# | `current` | whatever your kubeconfig points at; the labs never create or delete it | `LAB_CLUSTER=current make lab` |
#
# To switch: stop JupyterLab, then for example `make cluster-down` and `LAB_CLUSTER=kind make lab`.
# Korean notebooks: `LAB_LANG=ko make lab`. The cell below says which cluster this kernel talks
# to; `!kubectl` in these notebooks uses the same one.

# %% [markdown] lang="ko"
# ## 1. 어떤 클러스터인가?
#
# | `LAB_CLUSTER` | 설명 | 시작 방법 |
# |---|---|---|
# | `kind` | Docker 위에서 동작하는 실제 쿠버네티스 클러스터. 컨트롤 플레인 1대, 워커 노드 2대 | Docker가 실행 중일 때 `make lab` |
# | `embedded` | 실습과 함께 제공되는 쿠버네티스 호환 API 서버. Docker 불필요 | Docker가 없을 때 `make lab` |
# | `current` | kubeconfig가 가리키는 클러스터. 실습이 생성하거나 삭제하지 않는다 | `LAB_CLUSTER=current make lab` |
#
# 클러스터를 바꾸려면 JupyterLab을 종료한 다음, 예를 들어 `make cluster-down` 후
# `LAB_CLUSTER=kind make lab`을 실행한다. 영어 노트북은 `LAB_LANG=en make lab`으로 연다. 아래 셀은
# 이 커널이 어떤 클러스터와 통신하는지 보여 준다. 노트북의 `!kubectl`도 같은 클러스터를 사용한다.

# %%
import labs
from labs import notebooks as nb
from labs import widgets as lw

lab = nb.fresh("intro")

# %%
# !kubectl config current-context
# !kubectl get nodes -o wide

# %% [markdown] lang="en"
# Three nodes, like the three servers (`myserver01`-`03`) of the source material: pods are spread
# over the workers.

# %% [markdown] lang="ko"
# 원본 글의 서버 3대(`myserver01`~`03`)처럼 노드가 3개다. 파드는 워커 노드들에 나뉘어 배치된다.

# %% [markdown] lang="en"
# ## 2. Pods are ephemeral
#
# The setup cell applied the web Deployment `deploy-test01`: three nginx pods. A Deployment keeps
# the number of pods it is asked for; it does not keep *the same* pods. The table below follows the
# pods through a watch, live.

# %% [markdown] lang="ko"
# ## 2. 파드는 일시적이다
#
# 준비 셀이 웹 디플로이먼트 `deploy-test01`(nginx 파드 3개)을 배포했다. 디플로이먼트는 요청받은
# 파드 *개수*를 유지할 뿐, *같은* 파드를 유지하지는 않는다. 아래 표는 watch로 파드를 실시간으로
# 따라간다.

# %%
nb.require("intro", "deployment/deploy-test01", section="1")
pods = lw.pods_table("lab-intro", "app.kubernetes.io/name=web-deploy")
before = {name: p["status"].get("podIP") for name, p in pods.objects.items()}
before

# %% [markdown] lang="en"
# Delete one of them, as a node failure or an eviction would. The ReplicaSet behind the Deployment
# creates a replacement at once: a new name, and (watch the IP column) a new address.

# %% [markdown] lang="ko"
# 노드 장애나 축출(eviction)이 일어난 것처럼 파드 하나를 삭제한다. 디플로이먼트 뒤의 레플리카셋이
# 곧바로 대체 파드를 만든다. 이름이 새로 붙고, IP 열을 보면 주소도 새로 받는다.

# %%
victim = sorted(before)[0]
# !kubectl delete pod -n lab-intro {victim} --wait=false
lw.wait_rollout("lab-intro", "deploy-test01")
pods.wait(lambda objs: victim not in objs and len(objs) == 3, timeout=60)
after = {name: p["status"].get("podIP") for name, p in pods.objects.items()}
print("gone:", victim, before[victim])
print("new: ", {n: ip for n, ip in after.items() if n not in before})

# %% [markdown] lang="en"
# A client that had written down the old pod's IP would now send its requests nowhere. Services
# solve exactly this:
#
# - **service discovery**: one stable virtual IP and DNS name, whatever happens to the pods behind it;
# - **load balancing**: connections spread over all the ready pods;
# - **exposure**: NodePort and LoadBalancer open the pods to clients outside the cluster, without
#   touching the pods.

# %% [markdown] lang="ko"
# 예전 파드의 IP를 기억해 둔 클라이언트가 있다면 이제 요청이 갈 곳이 없다. 서비스가 해결하는 것이
# 바로 이 문제다.
#
# - **Service Discovery(서비스 발견)**: 뒤의 파드가 바뀌어도 변하지 않는 가상 IP와 DNS 이름
# - **Load Balancing(부하 분산)**: 준비된 파드들에 연결을 나누어 전달
# - **External Exposure(외부 노출)**: 파드를 수정하지 않고 NodePort, LoadBalancer로 클러스터 외부에 노출

# %% [markdown] lang="en"
# ## 3. Labels and selectors
#
# A Service does not list its pods by name (the names change, as you just saw). It names a
# **label selector**, and every ready pod with matching labels is one of its endpoints, whether a
# Deployment created it or it was created on its own. `kubectl -l` uses the same selectors.

# %% [markdown] lang="ko"
# ## 3. 레이블과 셀렉터
#
# 서비스는 파드를 이름으로 나열하지 않는다(방금 본 것처럼 이름은 바뀐다). 대신 **레이블
# 셀렉터**를 지정하고, 라벨이 일치하는 준비된 파드는 디플로이먼트가 만든 것이든 단독으로 만든
# 것이든 모두 엔드포인트가 된다. `kubectl -l`도 같은 셀렉터를 쓴다.

# %%
# !kubectl get pods -n lab-intro --show-labels
# !kubectl get pods -n lab-intro -l app.kubernetes.io/name=web-deploy
# !kubectl get pods -n lab-intro -l app.kubernetes.io/name=client
# !kubectl get pods -n lab-intro -l 'app.kubernetes.io/name in (web-deploy, client)'

# %% [markdown] lang="en"
# In the Deployment, `spec.selector.matchLabels` must match the labels of the pod template: that is
# how the Deployment finds its own pods. A Service's `spec.selector` is written against the same
# labels, `app.kubernetes.io/name: web-deploy`.

# %% [markdown] lang="ko"
# 디플로이먼트의 `spec.selector.matchLabels`는 파드 템플릿의 라벨과 일치해야 한다. 디플로이먼트는
# 이 방법으로 자기 파드를 찾는다. 서비스의 `spec.selector`도 같은 라벨
# `app.kubernetes.io/name: web-deploy`를 기준으로 작성한다.

# %%
# !grep -n -B1 -A1 "app.kubernetes.io/name" ../../manifests/common/deploy-test01.yml

# %% [markdown] lang="en"
# **Try it:** a selector with a typo (`web-deplyo`) matches nothing. A Service with this selector
# would get no endpoints; the ClusterIP notebook shows it.

# %% [markdown] lang="ko"
# **직접 해 보기:** 오타가 있는 셀렉터(`web-deplyo`)는 아무 파드와도 일치하지 않는다. 이런 셀렉터를
# 가진 서비스는 엔드포인트가 없다. ClusterIP 노트북에서 직접 확인한다.

# %%
# !kubectl get pods -n lab-intro -l app.kubernetes.io/name=web-deplyo

# %% [markdown] lang="en"
# ## 4. Clean up, and on to the labs
#
# Next: `01-clusterip`, `02-nodeport`, `03-loadbalancer`, `04-externalname`.

# %% [markdown] lang="ko"
# ## 4. 리소스 정리, 그리고 실습으로
#
# 다음 순서: `01-clusterip`, `02-nodeport`, `03-loadbalancer`, `04-externalname`.

# %%
lw.stop_all()
labs.reset(lab)
