"""Raw-voxel linear probe (issue 11 diagnosis): 4^3 / 2^3 mean pooling + a 24-bin histogram, logistic
regression per pathology trained on the train split, AUROC on the eval split. Input: bench/probe/dump.mjs output."""
import numpy as np, sys
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler
names=["Medical material","Arterial wall calcification","Cardiomegaly","Pericardial effusion","Coronary artery wall calcification","Hiatal hernia","Lymphadenopathy","Emphysema","Atelectasis","Lung nodule","Lung opacity","Pulmonary fibrotic sequela","Pleural effusion","Mosaic attenuation pattern","Peribronchial thickening","Consolidation","Bronchiectasis","Interlobular septal thickening"]
d=sys.argv[1]
def load(s):
    v=np.fromfile(f'{d}/{s}.vol.f32',dtype=np.float32).reshape(-1,32,32,32)
    l=np.fromfile(f'{d}/{s}.lab.u8',dtype=np.uint8).reshape(-1,18)
    return v,l
def feats(v, k):
    n=v.shape[0]; p=v.reshape(n,32//k,k,32//k,k,32//k,k).mean((2,4,6)).reshape(n,-1)
    # histogram of intensities (global) as well
    h=np.stack([np.histogram(x,bins=24,range=(-1,1))[0] for x in v]).astype(np.float32)/v[0].size
    return np.concatenate([p,h],1)
vt,lt=load('train'); vv,lv=load('valid')
for k in [4,2]:
    Xt,Xv=feats(vt,k),feats(vv,k)
    sc=StandardScaler().fit(Xt); Xt,Xv=sc.transform(Xt),sc.transform(Xv)
    res=[]
    for j in range(18):
        if lt[:,j].min()==lt[:,j].max() or lv[:,j].min()==lv[:,j].max(): res.append(float('nan')); continue
        best=None
        for C in [0.01]:
            m=LogisticRegression(C=C,max_iter=2000).fit(Xt,lt[:,j])
            a=roc_auc_score(lv[:,j],m.decision_function(Xv))
            best=a
        res.append(best)
    print(f'pool {k} ({Xt.shape[1]} feats): mean {np.nanmean(res):.3f}')
    for n,a,p in zip(names,res,lt.mean(0)): print(f'  {n[:30]:30s} {a:.3f}  prev {p:.2f}')
